//! `saex`: the command line. Each verb is one library call; this crate only parses
//! arguments, prints, and turns errors into a one-line message and exit code 2.

mod cache_args;
mod capture;
mod corpus;
mod dashboard;
mod discover;
mod drift;
mod encode;
mod eval;
mod explore;
mod feature;
mod generate;
mod groups;
mod highlight;
mod index;
mod label;
mod logging;
mod logit_stats;
mod map;
mod neighbors;
mod output;
mod pages;
mod sae_args;
mod sae_info;
mod sae_stats;
mod sampling_args;
mod serve;
mod steer;
mod table;
mod tokenize;
mod top_features;
mod top_texts;
mod train;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

// An allocator that reuses freed blocks: glibc hands every large activation buffer back to
// the OS and page-faults it in again on the next op, which measured 1.5x slower end to end.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Find and explain sparse-autoencoder features in transformer language models.
#[derive(Parser)]
#[command(name = "saex", version, about)]
struct Cli {
    /// How model weights are kept in memory: `stored` (as the file has them, GGUF blocks
    /// dequantized on the fly; default) or `f32` (dequantized at load: the reference path,
    /// 4-8x the memory).
    #[arg(long, global = true, default_value = "stored")]
    dtype: String,
    /// The label registry directory (default: $XDG_DATA_HOME/saex/labels, else
    /// ~/.local/share/saex/labels). Every verb that shows labels reads it; see docs/labels.md.
    #[arg(long, global = true, env = "SAEX_LABELS_DIR")]
    registry: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

static DTYPE: std::sync::OnceLock<saex_model::Dtype> = std::sync::OnceLock::new();

/// The model dtype the command line asked for.
pub fn dtype() -> saex_model::Dtype {
    DTYPE.get().copied().unwrap_or_default()
}

static REGISTRY: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

/// The label registry the command line asked for (`--registry`, `SAEX_LABELS_DIR`, else the
/// default location).
pub fn registry() -> saex_labels::Store {
    REGISTRY.get().map(saex_labels::Store::new).unwrap_or_else(saex_labels::Store::default_location)
}

/// Session options with the global flags applied; verbs add their own fields.
pub fn session_options() -> saex_engine::SessionOptions {
    saex_engine::SessionOptions { dtype: dtype(), registry: Some(registry().dir().to_path_buf()), ..Default::default() }
}

// One Command value per process: its size does not matter, boxing the big variants would.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Token ids and pieces of a text, as the model's tokenizer makes them.
    Tokenize(tokenize::Args),
    /// Run the model and save activations at TransformerLens hook points to safetensors.
    Capture(capture::Args),
    /// Generate text (greedy or sampled) with a KV cache.
    Generate(generate::Args),
    /// Encode a text with an SAE: tokens, hook activations, feature activations (safetensors).
    Encode(encode::Args),
    /// The SAE features that matter most for a text.
    TopFeatures(top_features::Args),
    /// Where a feature fires hardest: from an index, or over texts.
    TopTexts(top_texts::Args),
    /// Describe an SAE: architecture, shapes, hook, model, sparsity.
    SaeInfo(sae_info::Args),
    /// Evaluate an SAE on text: L0, explained variance, MSE, dead/dense features, CE loss recovered.
    Eval(eval::Args),
    /// Per-feature activation statistics (firing rate, mean, P95, max) over a corpus.
    SaeStats(sae_stats::Args),
    /// The SAE features a model used on a prompt (+ generation) or text, ranked with evidence.
    Discover(discover::Args),
    /// Serve the HTTP API (discover, top features, tokenize, steer; Neuronpedia's inference API) over one model and its SAEs.
    Serve(serve::Args),
    /// Build the multi-category text corpus.
    Corpus(corpus::Args),
    /// Generate with SAE features steering: add coefficient × decoder row at the SAE's hook.
    Steer(steer::Args),
    /// Train a TopK SAE on a hook over a corpus (SAELens format out).
    Train(train::Args),
    /// The corpus activation index: build (sharded like a cluster job) and merge.
    Index(index::Args),
    /// Everything an index knows about one feature.
    Feature(feature::Args),
    /// Feature dashboards from an index, and a page to browse them.
    Dashboard(dashboard::Args),
    /// A text shaded by chosen features, as a page.
    Highlight(highlight::Args),
    /// Group-discriminative features (seed 000): build per-response vectors, select.
    Groups(groups::Args),
    /// The exploration notebook (seed 001): frequent, strongest, selective features,
    /// specialists per category, co-activation, heatmaps.
    Explore(explore::Args),
    /// The features a set of texts sharing a concept have in common (seed 001).
    Concept(explore::ConceptArgs),
    /// The same prompts discovered on two models, compared: Spearman, features gained, lost.
    Drift(drift::Args),
    /// What each feature does to the logits (seed 004): moments of W_dec·W_U over the
    /// vocabulary, top boosted and suppressed tokens, feature type.
    LogitStats(logit_stats::Args),
    /// The features nearest a feature by decoder (or encoder) cosine, exact.
    Neighbors(neighbors::Args),
    /// The feature label registry (seed 003's sae_features.json per SAE): set, get, list,
    /// export, import, auto.
    Label(label::Args),
    /// Neuronpedia's feature explanations into the label registry: import exports, fetch.
    Explain(label::ExplainArgs),
    /// Seed 000's feature map: the decoder rows of chosen features in 2-D (UMAP or PCA), as
    /// a page with hover, a legend by group and a filter; --json for the coordinates.
    Map(map::Args),
}

fn run(cli: Cli, out: &mut dyn Write) -> anyhow::Result<()> {
    let _ = DTYPE.set(cli.dtype.parse()?);
    if let Some(r) = cli.registry {
        let _ = REGISTRY.set(r);
    }
    match cli.command {
        Command::Tokenize(a) => tokenize::run(a, out),
        Command::Capture(a) => capture::run(a, out),
        Command::Generate(a) => generate::run(a, out),
        Command::Encode(a) => encode::run(a, out),
        Command::TopFeatures(a) => top_features::run(a, out),
        Command::TopTexts(a) => top_texts::run(a, out),
        Command::SaeInfo(a) => sae_info::run(a, out),
        Command::Eval(a) => eval::run(a, out),
        Command::SaeStats(a) => sae_stats::run(a, out),
        Command::Corpus(a) => corpus::run(a, out),
        Command::Discover(a) => discover::run(a, out),
        Command::Serve(a) => serve::run(a, out),
        Command::Steer(a) => steer::run(a, out),
        Command::Train(a) => train::run(a, out),
        Command::Index(a) => index::run(a, out),
        Command::Feature(a) => feature::run(a, out),
        Command::Dashboard(a) => dashboard::run(a, out),
        Command::Highlight(a) => highlight::run(a, out),
        Command::Groups(a) => groups::run(a, out),
        Command::Explore(a) => explore::run(a, out),
        Command::Concept(a) => explore::run_concept(a, out),
        Command::Drift(a) => drift::run(a, out),
        Command::LogitStats(a) => logit_stats::run(a, out),
        Command::Neighbors(a) => neighbors::run(a, out),
        Command::Label(a) => label::run(a, out),
        Command::Explain(a) => label::run_explain(a, out),
        Command::Map(a) => map::run(a, out),
    }
}

fn main() -> ExitCode {
    logging::init();
    let cli = Cli::parse();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = run(cli, &mut out).and_then(|()| Ok(out.flush()?));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            // serde_json wraps the io::Error without exposing it as its source.
            || c.downcast_ref::<serde_json::Error>().is_some_and(|e| e.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe))
    })
}

/// Where the text comes from: `--text` or `--text-file`.
#[derive(clap::Args, Clone)]
#[group(required = true, multiple = false)]
pub struct TextSource {
    /// The text.
    #[arg(long)]
    text: Option<String>,
    /// A file holding the text (UTF-8).
    #[arg(long)]
    text_file: Option<std::path::PathBuf>,
}

impl TextSource {
    /// The text itself.
    pub fn read(&self) -> anyhow::Result<String> {
        use anyhow::Context;
        match (&self.text, &self.text_file) {
            (Some(t), _) => Ok(t.clone()),
            (None, Some(f)) => std::fs::read_to_string(f).with_context(|| format!("{}", f.display())),
            (None, None) => anyhow::bail!("give --text or --text-file"),
        }
    }
}

/// Report a session's warnings (SAE trained on another model, unmatched labels) and pass it on.
pub fn opened(session: saex_engine::Session) -> anyhow::Result<saex_engine::Session> {
    for w in &session.warnings {
        tracing::warn!("{w}");
    }
    Ok(session)
}
