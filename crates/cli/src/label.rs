//! `saex label …`: the feature label registry (seed 003's `sae_features.json`, one per SAE),
//! and `saex explain …`: Neuronpedia's explanations into it. See docs/labels.md.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use saex_engine::saex_labels::fetch::{FetchOptions, API_KEY_ENV, DEFAULT_BASE_URL};
use saex_engine::saex_labels::ops::Patch;
use saex_engine::saex_labels::{entry, Source};
use saex_engine::{AutoRequest, ExportRows, FetchMethod, ImportReport, LabelRecord};

/// `saex label`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(clap::Subcommand)]
enum Verb {
    /// Set fields of a feature's entry (it becomes a hand entry; fields not given are kept).
    Set(SetArgs),
    /// Show a feature's entry.
    Get(GetArgs),
    /// Show an SAE's entries.
    List(ListArgs),
    /// Write an SAE's registry in seed 003's layout (`json.load` reads it).
    Export(ExportArgs),
    /// Read a registry in seed 003's layout (e.g. a seed-made sae_features.json) into an SAE's.
    Import(ImportArgs),
    /// Automatic proto-labels from an index's top tokens and the boosted tokens, for features
    /// without a hand or Neuronpedia entry.
    Auto(AutoArgs),
}

/// `--sae`.
#[derive(clap::Args)]
struct SaeArg {
    /// The SAE (a directory or a SAELens release such as gpt2-small-res-jb/blocks.8.hook_resid_pre).
    #[arg(long)]
    sae: String,
}

#[derive(clap::Args)]
struct SetArgs {
    #[command(flatten)]
    sae: SaeArg,
    /// The feature.
    feature: u32,
    /// A short name (geographic_locations).
    #[arg(long)]
    name: Option<String>,
    /// What the feature does.
    #[arg(long)]
    description: Option<String>,
    /// A text it fires on (repeat; replaces the list).
    #[arg(long = "example")]
    examples: Vec<String>,
    /// high, medium or low.
    #[arg(long)]
    confidence: Option<String>,
    /// Anything else.
    #[arg(long)]
    notes: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct GetArgs {
    #[command(flatten)]
    sae: SaeArg,
    /// The feature.
    feature: u32,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct ListArgs {
    #[command(flatten)]
    sae: SaeArg,
    /// Only entries from this source: hand, neuronpedia, auto.
    #[arg(long)]
    source: Option<Source>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct ExportArgs {
    #[command(flatten)]
    sae: SaeArg,
    /// Only entries from this source: hand, neuronpedia, auto.
    #[arg(long)]
    source: Option<Source>,
    /// The file to write (default: standard output).
    #[arg(long, short)]
    output: Option<PathBuf>,
}

#[derive(clap::Args)]
struct ImportArgs {
    #[command(flatten)]
    sae: SaeArg,
    /// The file (seed 003's layout).
    file: PathBuf,
    /// Mark every entry as this source (default: the entry's own `source`, else hand).
    #[arg(long)]
    source: Option<Source>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct AutoArgs {
    #[command(flatten)]
    sae: SaeArg,
    /// The corpus activation index (saex index build).
    #[arg(long)]
    index: PathBuf,
    /// The model, to compute boosted tokens when the index has no logit table.
    #[arg(long)]
    model: Option<String>,
    /// These features (comma-separated; default: every feature that fired in the index).
    #[arg(long, value_delimiter = ',')]
    features: Vec<u32>,
    /// Top examples whose peak tokens are counted.
    #[arg(long, default_value_t = 20)]
    examples: usize,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn json_line(out: &mut dyn Write, v: &impl serde::Serialize) -> anyhow::Result<()> {
    serde_json::to_writer(&mut *out, v)?;
    writeln!(out)?;
    Ok(())
}

fn show_record(r: &LabelRecord, out: &mut dyn Write) -> anyhow::Result<()> {
    match &r.entry {
        None => writeln!(out, "feature {} of {}: no entry in the registry", r.feature_id, r.sae_id)?,
        Some(e) => {
            writeln!(out, "feature {} of {} ({})", r.feature_id, r.sae_id, e.source.name())?;
            for (k, v) in [("name", &e.name), ("description", &e.description), ("confidence", &e.confidence), ("notes", &e.notes)] {
                if !v.is_empty() {
                    writeln!(out, "  {k:<12} {v}")?;
                }
            }
            for x in &e.examples {
                writeln!(out, "  {:<12} {x}", "example")?;
            }
            for (k, v) in &e.extra {
                writeln!(out, "  {k:<12} {v}")?;
            }
        }
    }
    Ok(())
}

/// Print an import's counts, and its problems as warnings.
fn show_import(r: &ImportReport, out: &mut dyn Write) -> anyhow::Result<()> {
    for p in &r.problems {
        tracing::warn!("{p}");
    }
    if r.skipped > r.problems.len() {
        tracing::warn!("… and {} more skipped", r.skipped - r.problems.len());
    }
    writeln!(
        out,
        "{} rows: {} imported, {} unchanged, {} kept (a higher source's entry), {} duplicates, {} skipped, {} unmatched",
        r.rows, r.imported, r.unchanged, r.kept, r.duplicates, r.skipped, r.unmatched
    )?;
    for (id, n) in &r.unmatched_ids {
        writeln!(out, "  unmatched: {n} rows of {id}")?;
    }
    Ok(())
}

/// Run it.
pub fn run(args: Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let store = crate::registry();
    match args.verb {
        Verb::Set(a) => {
            let t = saex_engine::label_target(&a.sae.sae)?;
            let patch = Patch {
                name: a.name,
                description: a.description,
                examples: (!a.examples.is_empty()).then_some(a.examples),
                confidence: a.confidence,
                notes: a.notes,
            };
            let r = saex_engine::label_set(&store, &t, a.feature, &patch)?;
            if a.json {
                json_line(out, &r)
            } else {
                show_record(&r, out)
            }
        }
        Verb::Get(a) => {
            let t = saex_engine::label_target(&a.sae.sae)?;
            let r = saex_engine::label_get(&store, &t, a.feature)?;
            if a.json {
                json_line(out, &r)
            } else {
                show_record(&r, out)
            }
        }
        Verb::List(a) => {
            let t = saex_engine::label_target(&a.sae.sae)?;
            let r = saex_engine::label_list(&store, &t, a.source)?;
            if a.json {
                return json_line(out, &r);
            }
            writeln!(
                out,
                "{} · {} · {} hand, {} neuronpedia, {} auto",
                r.sae_id, r.path, r.counts.hand, r.counts.neuronpedia, r.counts.auto
            )?;
            for (f, e) in &r.labels {
                writeln!(out, "{f:>7}  {:<11} {}", e.source.name(), crate::table::show(&e.label().unwrap_or_default()))?;
            }
            Ok(())
        }
        Verb::Export(a) => {
            let t = saex_engine::label_target(&a.sae.sae)?;
            let r = saex_engine::label_list(&store, &t, a.source)?;
            let bytes = entry::to_bytes(&r.labels);
            match &a.output {
                Some(p) => {
                    saex_engine::atomic::write(p, &bytes)?;
                    writeln!(out, "wrote {} entries to {}", r.labels.len(), p.display())?;
                }
                None => out.write_all(&bytes)?,
            }
            Ok(())
        }
        Verb::Import(a) => {
            let t = saex_engine::label_target(&a.sae.sae)?;
            let bytes = std::fs::read(&a.file).with_context(|| a.file.display().to_string())?;
            let reg =
                entry::parse(&bytes).map_err(|m| anyhow::anyhow!("{}: not a registry in seed 003's layout: {m}", a.file.display()))?;
            let r = saex_engine::label_import(&store, &t, reg, a.source, &a.file.display().to_string())?;
            if a.json {
                json_line(out, &r)
            } else {
                show_import(&r, out)
            }
        }
        Verb::Auto(a) => {
            let t = saex_engine::label_target(&a.sae.sae)?;
            let index = saex_engine::index_store::Index::open(&a.index)?;
            let session = match &a.model {
                Some(m) => {
                    let opts = saex_engine::SessionOptions { logits: true, ..crate::session_options() };
                    Some(crate::opened(saex_engine::Session::open(m, std::slice::from_ref(&a.sae.sae), opts)?)?)
                }
                None => None,
            };
            let req = AutoRequest { sae_id: None, features: (!a.features.is_empty()).then_some(a.features), examples: a.examples };
            let r = saex_engine::label_auto(&store, &t, &index, session.as_ref(), &req)?;
            if a.json {
                return json_line(out, &r);
            }
            for l in &r.labels {
                writeln!(out, "{:>7}  {:<8} {}", l.feature_id, serde_json::to_value(l.offered)?.as_str().unwrap_or(""), l.label)?;
            }
            writeln!(
                out,
                "{} features: {} labelled ({} written, {} kept a hand or Neuronpedia entry, {} unchanged), {} without examples; boosted tokens from {}",
                r.considered,
                r.labels.len(),
                r.import.imported,
                r.import.kept,
                r.import.unchanged,
                r.no_examples,
                r.boosted_from
            )?;
            Ok(())
        }
    }
}

/// `saex explain`.
#[derive(clap::Args)]
pub struct ExplainArgs {
    #[command(subcommand)]
    verb: ExplainVerb,
}

#[derive(clap::Subcommand)]
enum ExplainVerb {
    /// Import Neuronpedia explanation exports (JSON array or JSONL, gzipped or not) into the
    /// registry, matching rows to SAEs by Neuronpedia id (modelId/layer).
    Import(ExplainImportArgs),
    /// Fetch explanations from Neuronpedia's API into the registry (API key from
    /// NEURONPEDIA_API_KEY, sent as x-api-key).
    Fetch(FetchArgs),
}

#[derive(clap::Args)]
struct ExplainImportArgs {
    /// Export files.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// The SAE(s) to import into (repeat), matched by the Neuronpedia id in their config.
    #[arg(long, required_unless_present = "source")]
    sae: Vec<String>,
    /// An SAE under a Neuronpedia id, `modelId/layer=SAE` (repeat; as `saex serve --source`
    /// names SAEs, with the model): for SAEs whose config has none.
    #[arg(long)]
    source: Vec<String>,
    /// The Neuronpedia id (modelId/layer) of the one SAE given, when its config has none.
    #[arg(long)]
    neuronpedia_id: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct FetchArgs {
    #[command(flatten)]
    sae: SaeArg,
    /// These features (comma-separated).
    #[arg(long, value_delimiter = ',', required_unless_present = "all", conflicts_with = "all")]
    features: Vec<u32>,
    /// Every feature of the SAE.
    #[arg(long)]
    all: bool,
    /// The SAE's Neuronpedia id (modelId/layer) when its config has none.
    #[arg(long)]
    neuronpedia_id: Option<String>,
    /// auto (the bulk export for --all, the feature API for a list), feature, or export.
    #[arg(long, default_value = "auto")]
    method: String,
    /// Neuronpedia's address.
    #[arg(long, default_value = DEFAULT_BASE_URL)]
    base_url: String,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Requests started per second (0: no limit).
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
    /// Retries of a request after a 429, a 5xx or a broken connection.
    #[arg(long, default_value_t = 5)]
    retries: u32,
    /// First retry's wait in milliseconds (doubled each retry; a Retry-After header wins).
    #[arg(long, default_value_t = 500)]
    backoff_ms: u64,
    /// Where answers are cached (default: ~/.cache/saex/neuronpedia).
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Neither read nor write the cache.
    #[arg(long)]
    no_cache: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Run it.
pub fn run_explain(args: ExplainArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let store = crate::registry();
    match args.verb {
        ExplainVerb::Import(a) => {
            let mut targets = a.sae.iter().map(|s| saex_engine::label_target(s)).collect::<saex_engine::Result<Vec<_>>>()?;
            for s in &a.source {
                let (id, sae) = s
                    .split_once('=')
                    .filter(|(id, _)| id.contains('/'))
                    .ok_or_else(|| anyhow::anyhow!("--source {s}: expected modelId/layer=SAE, e.g. gemma-3-270m/6-res-mine=./my-sae"))?;
                let mut t = saex_engine::label_target(sae)?;
                t.neuronpedia_id = Some(id.to_string());
                targets.push(t);
            }
            let inputs = a.files.iter().map(|f| ExportRows::read(f)).collect::<saex_engine::Result<Vec<_>>>()?;
            let r = saex_engine::explain_import(&store, &targets, a.neuronpedia_id.as_deref(), &inputs)?;
            if a.json {
                json_line(out, &r)
            } else {
                show_import(&r, out)
            }
        }
        ExplainVerb::Fetch(a) => {
            let method: FetchMethod = serde_json::from_value(serde_json::Value::String(a.method.clone()))
                .map_err(|_| anyhow::anyhow!("--method {:?}: give auto, feature or export", a.method))?;
            let t = saex_engine::label_target(&a.sae.sae)?;
            let opts = FetchOptions {
                base_url: a.base_url,
                api_key: std::env::var(API_KEY_ENV).ok().filter(|k| !k.is_empty()),
                concurrency: a.concurrency,
                rate: a.rate,
                retries: a.retries,
                backoff: std::time::Duration::from_millis(a.backoff_ms),
                cache_dir: (!a.no_cache).then(|| a.cache_dir.unwrap_or_else(saex_engine::neuronpedia_cache_dir)),
                ..Default::default()
            };
            let features = (!a.all).then_some(a.features.as_slice());
            let r = saex_engine::explain_fetch(&store, &t, a.neuronpedia_id.as_deref(), features, method, &opts)?;
            for f in &r.failed {
                tracing::warn!("{f}");
            }
            if a.json {
                return json_line(out, &r);
            }
            writeln!(
                out,
                "{} features of {} ({}): {} explained, {} without explanation, {} not on Neuronpedia, {} failed; {} from the cache, {} requests ({} retries) in {:.1} s",
                r.requested,
                r.neuronpedia_id,
                r.method,
                r.found,
                r.no_explanation,
                r.not_found,
                r.failed.len(),
                r.cached,
                r.requests,
                r.retries,
                r.seconds
            )?;
            show_import(&r.import, out)?;
            if !r.failed.is_empty() {
                anyhow::bail!(
                    "{} of {} features failed (see the warnings); the others are in the registry, and a re-run asks only for what is not cached",
                    r.failed.len(),
                    r.requested
                );
            }
            Ok(())
        }
    }
}
