//! `saex discover`: the SAE features a model used on a prompt (+ its generation) or a text,
//! ranked, with evidence (seed 002). One request from the flags, or a JSONL batch.
//!
//! Flags take seed 002's names with dashes; the seed's underscore spellings
//! (`--gen_tokens`, `--score_mode`, ...) are accepted too, so its examples run as written.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::Context;
use saex_discover::{DiscoverRequest, DiscoverResponse, ScoreMode, Session, SessionOptions, Tau, TokenFilter};

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
    /// Generate a continuation of --prompt and analyse prompt + generation (default true).
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
    /// One ranking across SAEs, scores divided by each feature's reference P95 (default true).
    #[arg(long, alias = "merge_across_layers", num_args = 0..=1, default_value = "true", default_missing_value = "true", action = clap::ArgAction::Set)]
    merge_across_layers: bool,
    /// Attach each feature's top spans of the analysed text (default true).
    #[arg(long, alias = "attach_examples", num_args = 0..=1, default_value = "true", default_missing_value = "true", action = clap::ArgAction::Set)]
    attach_examples: bool,
    /// Attach proto-labels from label catalogs (default true).
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
                    anyhow::bail!("--sae {s} is a SAELens release: give --layers (and --streams) to pick its SAEs, or name one as {s}/<id>");
                }
                out.extend(saex_discover::release_saes(s, &self.layers, &self.streams)?);
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
    let hooks = match &args.hook {
        Some(h) if specs.len() == 1 => vec![Some(h.parse::<saex_hooks::Hook>()?)],
        Some(_) => anyhow::bail!("--hook applies to a single --sae; every SAE of several must name its own hook"),
        None => Vec::new(),
    };
    let cache = args.cache.open()?;
    let session = Session::open(&args.model, &specs, SessionOptions { labels: args.labels.clone(), cache, logits, hooks })?;
    for w in &session.warnings {
        eprintln!("warning: {w}");
    }
    Ok(session)
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
    let logits = req.token_filter == TokenFilter::Entropy || matches!(input, saex_discover::Input::Generate(_));
    let session = open(&args, logits)?;
    let (res, cap) = saex_discover::discover_with_capture(&session, &req, None)?;
    if let Some(path) = &args.html {
        let page = html_page(&session, &req, &res, &cap)?;
        std::fs::write(path, page).with_context(|| format!("{}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    let csv = args.csv || args.out.as_ref().is_some_and(|p| p.extension().is_some_and(|e| e == "csv"));
    match &args.out {
        Some(path) => {
            let mut f = std::io::BufWriter::new(std::fs::File::create(path).with_context(|| format!("{}", path.display()))?);
            if csv {
                write_csv(&res, &mut f)?;
            } else {
                serde_json::to_writer_pretty(&mut f, &res)?;
                writeln!(f)?;
            }
            f.flush().with_context(|| format!("{}", path.display()))?;
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

/// The report page: one section per top feature, the text's tokens shaded by its activation.
fn html_page(session: &Session, req: &DiscoverRequest, res: &DiscoverResponse, cap: &saex_discover::Captured) -> anyhow::Result<String> {
    let sel = session.select(req)?;
    let rows: Vec<saex_report::FeatureRow> = res
        .features
        .iter()
        .map(|f| saex_report::FeatureRow {
            feature: f.feature_id,
            value: f.score,
            peak_token: f.top_spans.first().map(|s| s.text.clone()).unwrap_or_default(),
            label: f.proto_label.clone(),
        })
        .collect();
    let first = usize::from(cap.has_bos);
    let mut sections = Vec::new();
    for (rank, f) in res.features.iter().take(10).enumerate() {
        // The feature's SAE: the selected one at its layer and stream.
        let Some(k) = sel.iter().position(|&i| {
            let h = session.saes[i].hook;
            h.layer() == f.layer && h.stream() == f.stream
        }) else {
            continue;
        };
        let codes = cap.saes[k].acts();
        let tokens = (first..cap.tokens.len())
            .map(|p| {
                let (a, b) = cap.offsets[p];
                let act = codes.token(p).and_then(|(fs, vs)| fs.binary_search(&f.feature_id).ok().map(|j| vs[j])).unwrap_or(0.0);
                saex_report::TokenAct { text: cap.text.get(a..b).unwrap_or("").to_string(), act }
            })
            .collect();
        let label = f.proto_label.as_deref().map(|l| format!(" — {l}")).unwrap_or_default();
        let at = f.layer.map_or(f.stream.clone(), |l| format!("{l}/{}", f.stream));
        sections.push(saex_report::Section {
            title: format!("#{} at {at}, score {:.4}{label}", rank + 1, f.score),
            feature: f.feature_id,
            tokens,
            top: if rank == 0 { rows.clone() } else { Vec::new() },
        });
    }
    let subtitle = format!(
        "{} · {} · {} · {} tokens ({} kept) · ranked by {}",
        session.model.info.name, res.sae_id, res.analyzed.mode, res.analyzed.tokens, res.analyzed.kept_tokens, req.score_mode
    );
    Ok(saex_report::highlight_page("Discovered SAE features", &subtitle, &sections))
}

fn write_csv(res: &DiscoverResponse, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(saex_discover::CSV_COLUMNS)?;
    for f in &res.features {
        w.write_record(f.csv_row())?;
    }
    w.flush()?;
    Ok(())
}

fn print_table(res: &DiscoverResponse, out: &mut dyn Write) -> anyhow::Result<()> {
    writeln!(out, "{} · {} · {} tokens ({} kept) · layers {:?}", res.model_id, res.sae_id, res.analyzed.tokens, res.analyzed.kept_tokens, res.analyzed.layers)?;
    if res.analyzed.mode == "prompt+gen" {
        writeln!(out, "text: {:?}", res.analyzed.text)?;
    }
    writeln!(out, "{:>4} {:>7} {:>14} {:>8} {:>8} {:>6} {:>8} {:>8}  label / top span", "rank", "feature", "layer/stream", "score", "mean", "cov", "max", "select")?;
    for (i, f) in res.features.iter().enumerate() {
        let sel = f.scores.selectivity.map_or("-".to_string(), |s| format!("{s:.3}"));
        let hook = format!("{}/{}", f.layer.map_or("-".to_string(), |l| l.to_string()), f.stream);
        let evidence = match (&f.proto_label, f.top_spans.first()) {
            (Some(l), Some(s)) => format!("{l} · {:?}", s.text),
            (Some(l), None) => l.clone(),
            (None, Some(s)) => format!("{:?}", s.text),
            (None, None) => String::new(),
        };
        writeln!(
            out,
            "{:>4} {:>7} {:>14} {:>8.3} {:>8.3} {:>6.3} {:>8.3} {:>8}  {evidence}",
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
    }
    Ok(())
}

/// JSONL in, JSONL out, in order, flushed per line; a bad line becomes an error object in
/// its place and the batch goes on.
fn batch(session: &Session, base: &DiscoverRequest, file: &std::path::Path, out_path: Option<&std::path::Path>, stdout: &mut dyn Write) -> anyhow::Result<()> {
    let reader = std::io::BufReader::new(std::fs::File::open(file).with_context(|| format!("{}", file.display()))?);
    let lines: Vec<(usize, String)> = reader
        .lines()
        .enumerate()
        .map(|(i, l)| l.map(|l| (i + 1, l)).with_context(|| format!("{}: line {}", file.display(), i + 1)))
        .collect::<anyhow::Result<Vec<_>>>()?
        .into_iter()
        .filter(|(_, l)| !l.trim().is_empty())
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
        let result = saex_discover::request_from_line(base, line).and_then(|r| saex_discover::discover(session, &r));
        let json = match result {
            Ok(res) => {
                ok += 1;
                serde_json::to_string(&res)?
            }
            Err(e) => {
                failed += 1;
                serde_json::to_string(&saex_discover::line_error(*n, line, &e))?
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
        eprintln!("{failed} of {} lines failed (see their error objects)", lines.len());
    }
    Ok(())
}
