//! `saex discover`: the SAE features a model used on a prompt (+ its generation) or a text,
//! ranked, with evidence (seed 002). One request from the flags, or a JSONL batch.
//!
//! Flags take seed 002's names with dashes; the seed's underscore spellings
//! (`--gen_tokens`, `--score_mode`, ...) are accepted too, so its examples run as written.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use saex_analysis::discover::{line_error, request_from_line, Input, ScoreMode, Tau, TokenFilter, CSV_COLUMNS};
use saex_engine::{Captured, DiscoverRequest, DiscoverResponse, Session, SessionOptions};

/// Arguments of `saex discover`.
#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("input").required(true).multiple(false))]
pub struct Args {
    /// A .gguf file, a Hugging Face model directory, or a hub id in the local HF cache.
    #[arg(long)]
    model: String,
    /// An SAE directory or SAELens release path (repeat for several; each reads its own
    /// hook, all in one forward pass). A bare SAELens release name with --layers picks its
    /// SAE per layer and stream.
    #[arg(long, required = true)]
    sae: Vec<String>,
    /// The hook the SAE reads when it does not say (only with one --sae).
    #[arg(long)]
    hook: Option<String>,
    /// A prompt to run (and, by default, generate from).
    #[arg(long, group = "input")]
    prompt: Option<String>,
    /// A text to analyse as is.
    #[arg(long, group = "input")]
    text: Option<String>,
    /// A file holding the text to analyse as is (UTF-8).
    #[arg(long, group = "input")]
    text_file: Option<PathBuf>,
    /// JSONL batch: one request per line (`{"prompt": …}` or `{"text": …}` plus any request
    /// field); JSONL out, one line per input line, errors included.
    #[arg(long, alias = "prompts_file", group = "input")]
    prompts_file: Option<PathBuf>,
    /// Generate a continuation of --prompt and analyse prompt + generation (default: true for
    /// --prompt; a --text is never generated from).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    generate: Option<bool>,
    /// Most tokens to generate.
    #[arg(long, alias = "gen_tokens", default_value_t = 128)]
    gen_tokens: usize,
    /// Sampling temperature (0: greedy).
    #[arg(long, default_value_t = 0.7)]
    temperature: f64,
    /// Nucleus sampling mass.
    #[arg(long, alias = "top_p", default_value_t = 0.9)]
    top_p: f64,
    /// RNG seed: same seed, same generation, same output.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Layers to analyse (SAEs at these layers).
    #[arg(long, num_args = 1..)]
    layers: Vec<usize>,
    /// Streams to analyse: resid_pre, mlp_out, attn_out, resid_post, ...
    #[arg(long, num_args = 1..)]
    streams: Vec<String>,
    /// Only score these feature ids.
    #[arg(long, alias = "restrict_features", num_args = 1..)]
    restrict_features: Vec<u32>,
    /// Score only the K most informative tokens per sequence (0: all).
    #[arg(long, alias = "topk_tokens_per_seq", default_value_t = 64)]
    topk_tokens_per_seq: usize,
    /// Informativeness proxy: entropy (of the next-token distribution) or norm (of the SAE input).
    #[arg(long, alias = "token_filter", default_value = "entropy")]
    token_filter: String,
    /// Features to return.
    #[arg(long, alias = "return_top_x", default_value_t = 25)]
    return_top_x: usize,
    /// mean, max, mean×coverage (or mean*coverage), selectivity.
    #[arg(long, alias = "score_mode", default_value = "mean×coverage")]
    score_mode: String,
    /// Minimum coverage, in percent of the kept tokens.
    #[arg(long, alias = "min_coverage_pct", default_value_t = 0.5)]
    min_coverage_pct: f64,
    /// Coverage threshold: p95 (each feature's P95 on the SAE's reference corpus) or a number.
    #[arg(long, default_value = "p95")]
    tau: String,
    /// Skip features firing on more than this share of the SAE's reference-corpus tokens
    /// (dense features; 1 keeps them). Never applied to --restrict-features.
    #[arg(long, alias = "max_density", default_value_t = 0.1)]
    max_density: f64,
    /// One ranking across SAEs, scores divided by each feature's reference P95.
    #[arg(long, alias = "merge_across_layers", num_args = 0..=1, default_value = "true", default_missing_value = "true", action = clap::ArgAction::Set)]
    merge_across_layers: bool,
    /// Attach each feature's top spans of the analysed text.
    #[arg(long, alias = "attach_examples", num_args = 0..=1, default_value = "true", default_missing_value = "true", action = clap::ArgAction::Set)]
    attach_examples: bool,
    /// Attach proto-labels from label catalogs.
    #[arg(long, alias = "attach_proto_labels", num_args = 0..=1, default_value = "true", default_missing_value = "true", action = clap::ArgAction::Set)]
    attach_proto_labels: bool,
    /// Label catalog: saex JSONL/JSON (`sae_id`, `feature_id`, `label`) or a Neuronpedia
    /// explanation export (`modelId`, `layer`, `index`, `description`). Repeatable; an
    /// SAE directory's own labels.jsonl is always read.
    #[arg(long)]
    labels: Vec<PathBuf>,
    /// A character range START:END of the text to contrast with the rest (selectivity).
    #[arg(long, value_parser = parse_span)]
    span: Vec<[usize; 2]>,
    /// Print JSON.
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// Print CSV (seed 002's columns).
    #[arg(long)]
    csv: bool,
    /// Write the result here (JSON, or CSV with --csv or a .csv name; JSONL for a batch).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Also write a self-contained HTML page: the ranked features, and the analysed text
    /// shaded by each of the top 10.
    #[arg(long)]
    html: Option<PathBuf>,
    #[command(flatten)]
    cache: crate::cache_args::CacheArgs,
}

fn parse_span(s: &str) -> Result<[usize; 2], String> {
    let (a, b) = s.split_once(':').ok_or_else(|| format!("span {s:?} is not START:END"))?;
    let n = |x: &str| x.trim().parse::<usize>().map_err(|_| format!("span {s:?}: {x:?} is not a character index"));
    Ok([n(a)?, n(b)?])
}

impl Args {
    /// The request the flags describe (without its input when batching).
    fn request(&self) -> anyhow::Result<DiscoverRequest> {
        let text = match &self.text_file {
            Some(f) => Some(std::fs::read_to_string(f).with_context(|| format!("{}", f.display()))?),
            None => self.text.clone(),
        };
        Ok(DiscoverRequest {
            id: None,
            model_id: None,
            sae_id: None,
            text,
            prompt: self.prompt.clone(),
            generate: self.generate,
            gen_tokens: self.gen_tokens,
            temperature: self.temperature,
            top_p: self.top_p,
            seed: self.seed,
            layers: self.layers.clone(),
            streams: self.streams.clone(),
            restrict_features: self.restrict_features.clone(),
            topk_tokens_per_seq: self.topk_tokens_per_seq,
            token_filter: self.token_filter.parse::<TokenFilter>()?,
            return_top_x: self.return_top_x,
            score_mode: self.score_mode.parse::<ScoreMode>()?,
            min_coverage_pct: self.min_coverage_pct,
            tau: self.tau.parse::<Tau>()?,
            max_density: self.max_density,
            merge_across_layers: self.merge_across_layers,
            attach_examples: self.attach_examples,
            attach_proto_labels: self.attach_proto_labels,
            spans: self.span.clone(),
        })
    }

    /// The SAE specs, with bare release names expanded per layer and stream.
    fn sae_specs(&self) -> anyhow::Result<Vec<String>> {
        let mut out = Vec::new();
        for s in &self.sae {
            if !std::path::Path::new(s).exists() && saex_sae::registry::release(s).is_some() {
                if self.layers.is_empty() {
                    anyhow::bail!(
                        "--sae {s} is a SAELens release: give --layers (and --streams) to pick its SAEs, or name one as {s}/<id>"
                    );
                }
                out.extend(saex_engine::release_saes(s, &self.layers, &self.streams)?);
            } else {
                out.push(s.clone());
            }
        }
        Ok(out)
    }
}

/// Open the session a run needs: the whole model when generating or filtering by entropy.
fn open(args: &Args, logits: bool) -> anyhow::Result<Session> {
    let specs = args.sae_specs()?;
    let sae_hooks = match &args.hook {
        Some(h) if specs.len() == 1 => vec![Some(h.parse::<saex_hooks::Hook>()?)],
        Some(_) => anyhow::bail!("--hook applies to a single --sae; every SAE of several must name its own hook"),
        None => Vec::new(),
    };
    let cache = args.cache.open()?;
    let opts = SessionOptions { labels: args.labels.clone(), cache, logits, sae_hooks, ..crate::session_options() };
    crate::opened(Session::open(&args.model, &specs, opts)?)
}

/// Run it.
pub fn run(args: Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let req = args.request()?;
    if let Some(file) = &args.prompts_file {
        if args.csv || args.out.as_ref().is_some_and(|p| p.extension().is_some_and(|e| e == "csv")) {
            anyhow::bail!("--csv holds one result's features; a batch writes JSONL (one result per line)");
        }
        // Any line may generate or ask for entropy: load the whole model.
        let session = open(&args, true)?;
        return batch(&session, &req, file, args.out.as_deref(), out);
    }
    let input = req.input()?;
    let logits = req.token_filter == TokenFilter::Entropy || matches!(input, Input::Generate(_));
    let session = open(&args, logits)?;
    let (res, cap) = saex_engine::discover_with_capture(&session, &req, None)?;
    if let Some(path) = &args.html {
        crate::pages::write(path, &html_page(&session, &req, &res, &cap)?)?;
        if args.out.is_some() || !(args.json || csv_out(&args)) {
            writeln!(out, "wrote {}", path.display())?;
        }
    }
    let csv = csv_out(&args);
    match &args.out {
        Some(path) => {
            let mut buf = Vec::new();
            if csv {
                write_csv(&res, &mut buf)?;
            } else {
                serde_json::to_writer_pretty(&mut buf, &res)?;
                writeln!(buf)?;
            }
            saex_engine::atomic::write(path, &buf)?;
            writeln!(out, "wrote {} ({} features)", path.display(), res.features.len())?;
        }
        None if csv => write_csv(&res, out)?,
        None if args.json => {
            serde_json::to_writer(&mut *out, &res)?;
            writeln!(out)?;
        }
        None => print_table(&res, out)?,
    }
    Ok(())
}

/// The report page: the analysed text once, the ranked features in a table above it; a
/// feature selected in the table shades the text.
fn html_page(session: &Session, req: &DiscoverRequest, res: &DiscoverResponse, cap: &Captured) -> anyhow::Result<String> {
    let subtitle = format!("{} · {} · ranked by {}", session.model.info.name, res.sae_id, req.score_mode);
    Ok(saex_report::texts_page("Discovered SAE features", &subtitle, &[crate::pages::discover_view(res, cap)])?)
}

fn csv_out(args: &Args) -> bool {
    args.csv || args.out.as_ref().is_some_and(|p| p.extension().is_some_and(|e| e == "csv"))
}

fn write_csv(res: &DiscoverResponse, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(CSV_COLUMNS)?;
    for f in &res.features {
        w.write_record(f.csv_row())?;
    }
    w.flush()?;
    Ok(())
}

fn print_table(res: &DiscoverResponse, out: &mut dyn Write) -> anyhow::Result<()> {
    use crate::table::{clip, show};
    let a = &res.analyzed;
    writeln!(out, "{} · {} · {} · {} tokens ({} kept) · layers {:?}", res.model_id, res.sae_id, a.mode, a.tokens, a.kept_tokens, a.layers)?;
    if a.mode == "prompt+gen" {
        let (prompt, continuation): (String, String) =
            (a.text.chars().take(a.prompt_end).collect(), a.text.chars().skip(a.prompt_end).collect());
        writeln!(out, "prompt:       {}", show(&prompt))?;
        writeln!(out, "continuation: {}", show(&continuation))?;
    }
    for n in &res.notes {
        writeln!(out, "note: {n}")?;
    }
    let several = res.features.iter().any(|f| f.sae_id != res.features[0].sae_id);
    writeln!(
        out,
        "{:>4} {:>7} {:>14} {:>8} {:>8} {:>6} {:>8} {:>8}  label · top span",
        "rank", "feature", "layer/stream", "score", "mean", "cov", "max", "select"
    )?;
    for (i, f) in res.features.iter().enumerate() {
        let sel = f.scores.selectivity.map_or("-".to_string(), |s| format!("{s:.3}"));
        let hook = format!("{}/{}", f.layer.map_or("-".to_string(), |l| l.to_string()), f.stream);
        let span = f.top_spans.first().map(|s| format!("“{}”", show(&clip(&s.text, 40))));
        let evidence = [f.proto_label.clone(), span].into_iter().flatten().collect::<Vec<_>>().join(" · ");
        let sae = if several { format!(" [{}]", f.sae_id) } else { String::new() };
        writeln!(
            out,
            "{:>4} {:>7} {:>14} {:>8.3} {:>8.3} {:>6.3} {:>8.3} {:>8}  {evidence}{sae}",
            i + 1,
            f.feature_id,
            hook,
            f.score,
            f.scores.mean,
            f.scores.coverage,
            f.scores.max,
            sel
        )?;
    }
    if res.features.is_empty() {
        writeln!(out, "no feature passed the coverage gate: lower --tau or --min-coverage-pct, or raise --topk-tokens-per-seq")?;
    } else {
        writeln!(out, "(score: the ranking value; mean, cov(erage above τ), max: over the kept tokens; select(ivity): span mean minus background mean)")?;
    }
    Ok(())
}

/// JSONL in, JSONL out, in order, flushed per line; a bad line becomes an error object in
/// its place and the batch goes on.
fn batch(
    session: &Session,
    base: &DiscoverRequest,
    file: &std::path::Path,
    out_path: Option<&std::path::Path>,
    stdout: &mut dyn Write,
) -> anyhow::Result<()> {
    // Lines are read as bytes: one line of invalid UTF-8 becomes that line's error object,
    // not the end of the batch.
    let bytes = std::fs::read(file).with_context(|| format!("{}", file.display()))?;
    let lines: Vec<(usize, Result<String, String>)> = bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, l)| (i + 1, String::from_utf8(l.strip_suffix(b"\r").unwrap_or(l).to_vec()).map_err(|e| format!("not valid UTF-8: {e}"))))
        .filter(|(_, l)| l.as_ref().map_or(true, |l| !l.trim().is_empty()))
        .collect();
    let mut file_out = match out_path {
        Some(p) => Some(std::io::BufWriter::new(std::fs::File::create(p).with_context(|| format!("{}", p.display()))?)),
        None => None,
    };
    let bar = indicatif::ProgressBar::new(lines.len() as u64).with_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} prompts · {elapsed} · eta {eta} · {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let (mut ok, mut failed) = (0, 0);
    for (n, line) in &lines {
        let result = match line {
            Ok(text) => request_from_line(base, text)
                .map_err(saex_engine::Error::from)
                .and_then(|r| saex_engine::discover(session, &r))
                .map_err(|e| (text.as_str(), e)),
            Err(why) => Err(("", saex_engine::Error::Invalid(why.clone()))),
        };
        let json = match result {
            Ok(res) => {
                ok += 1;
                serde_json::to_string(&res)?
            }
            Err((text, e)) => {
                failed += 1;
                serde_json::to_string(&line_error(*n, text, e.field_name(), e.to_string()))?
            }
        };
        let w: &mut dyn Write = match file_out.as_mut() {
            Some(f) => f,
            None => &mut *stdout,
        };
        writeln!(w, "{json}")?;
        w.flush()?;
        bar.set_message(format!("{failed} failed"));
        bar.inc(1);
    }
    bar.finish_and_clear();
    if let Some(p) = out_path {
        writeln!(stdout, "wrote {} ({ok} results, {failed} errors)", p.display())?;
    } else if failed > 0 {
        tracing::warn!("{failed} of {} lines failed (see their error objects)", lines.len());
    }
    Ok(())
}
