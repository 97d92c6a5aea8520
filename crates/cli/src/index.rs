//! `saex index build | merge`: the corpus activation index (see saex-index).

use std::io::Write;
use std::path::PathBuf;

use saex_engine::index_store::{IndexOptions, Shard};
use saex_engine::{IndexBuildRequest, Session, SessionOptions};

/// `saex index ...`
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// One streaming pass over a corpus: per SAE and feature, top and quantile examples,
    /// histogram, statistics, firing per category, logit tokens (Parquet + manifest.json).
    Build(BuildArgs),
    /// Combine the shards of a build (`--shard I/N` runs) into one index, exactly the one a
    /// single run makes.
    Merge(MergeArgs),
}

#[derive(clap::Args)]
struct BuildArgs {
    /// A .gguf file, a Hugging Face model directory, or a hub id in the local HF cache.
    #[arg(long)]
    model: String,
    /// An SAE directory or SAELens release path (repeat for several: one forward pass).
    #[arg(long, required = true)]
    sae: Vec<String>,
    /// JSONL corpus: `{"text", "category"?}` per line (saex corpus build).
    #[arg(long)]
    corpus: PathBuf,
    /// The index folder (a killed run rerun with the same arguments resumes here).
    #[arg(long)]
    out: PathBuf,
    /// Index only the corpus prefix holding this many tokens (0: all).
    #[arg(long, default_value_t = 0)]
    max_tokens: usize,
    /// Tokens per document at most (bos included).
    #[arg(long, default_value_t = 128)]
    ctx: usize,
    /// This run's part of the corpus, I/N (0-based). Default: from JOB_COMPLETION_INDEX +
    /// SAEX_SHARDS (Kubernetes Indexed Job) or SLURM_ARRAY_TASK_ID/COUNT (Slurm array).
    #[arg(long)]
    shard: Option<String>,
    /// Top activating examples per feature.
    #[arg(long, default_value_t = 20)]
    top_k: usize,
    /// Activation-quantile groups per feature.
    #[arg(long, default_value_t = 10)]
    quantile_bins: usize,
    /// Examples per quantile group.
    #[arg(long, default_value_t = 5)]
    per_bin: usize,
    /// Documents per forward batch (part of the index's identity: shards must agree).
    #[arg(long, default_value_t = 16)]
    block: usize,
    /// Do not store the top ± logit tokens (then only the blocks up to the SAEs' hooks load).
    #[arg(long)]
    no_logits: bool,
    /// Seconds between checkpoints (a killed run resumes from the last one).
    #[arg(long, default_value_t = 60)]
    checkpoint_secs: u64,
    /// Print the build's report as JSON (manifest, resumed, reused, seconds).
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct MergeArgs {
    /// The shard folders (all N of one build).
    #[arg(required = true)]
    shards: Vec<PathBuf>,
    /// The index folder to write.
    #[arg(long)]
    out: PathBuf,
}

/// Run it.
pub fn run(args: Args, out: &mut dyn Write) -> anyhow::Result<()> {
    match args.command {
        Command::Build(a) => build(a, out),
        Command::Merge(a) => {
            let m = saex_engine::index_merge(&a.shards, &a.out)?;
            writeln!(
                out,
                "merged {} shards: {} documents, {} tokens; wrote {}",
                a.shards.len(),
                m.corpus.docs,
                m.corpus.tokens,
                a.out.display()
            )?;
            Ok(())
        }
    }
}

fn build(a: BuildArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let shard = match &a.shard {
        Some(s) => Shard::parse(s)?,
        None => Shard::from_env(|k| std::env::var(k).ok())?.unwrap_or(Shard::WHOLE),
    };
    let options = IndexOptions {
        ctx: a.ctx,
        top_k: a.top_k,
        quantile_bins: a.quantile_bins,
        per_bin: a.per_bin,
        sample_k: a.quantile_bins * a.per_bin,
        block: a.block,
        max_tokens: a.max_tokens,
        ..IndexOptions::default()
    };
    let logits = !a.no_logits;
    let session = crate::opened(Session::open(&a.model, &a.sae, SessionOptions { logits, ..crate::session_options() })?)?;
    let req = IndexBuildRequest {
        corpus: a.corpus.clone(),
        out: a.out.clone(),
        options,
        shard,
        logits,
        logit_k: 10,
        checkpoint_secs: a.checkpoint_secs,
    };
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} tokens · {per_sec} · {elapsed} · eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let report = saex_engine::index_build(
        &session,
        &req,
        &mut |p| {
            bar.set_length(p.total);
            bar.set_position(p.tokens);
        },
        None,
    )?;
    bar.finish_and_clear();
    if a.json {
        serde_json::to_writer(&mut *out, &report)?;
        writeln!(out)?;
        return Ok(());
    }
    let m = &report.manifest;
    let what = if report.reused {
        "already built from the same inputs; reused"
    } else if report.resumed {
        "resumed from its checkpoint"
    } else {
        "built"
    };
    let part = m.shard.map(|s| format!(" (shard {}/{})", s.index, s.count)).unwrap_or_default();
    writeln!(
        out,
        "{what}{part}: {} documents, {} tokens, {} SAE(s) in {:.1} s; wrote {}",
        m.corpus.docs,
        m.corpus.tokens,
        m.saes.len(),
        report.seconds,
        a.out.display()
    )?;
    Ok(())
}
