//! `saex sae-stats`: per-feature activation statistics over a corpus, saved next to the SAE.

use std::io::Write;
use std::path::PathBuf;

/// Arguments of `saex sae-stats`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pair: crate::sae_args::ModelSae,
    /// JSONL corpus (saex corpus build); its training lines (not the held-out ones) are read.
    #[arg(long)]
    corpus: PathBuf,
    /// Lines `saex train --heldout-every` held out are skipped (0: use every line).
    #[arg(long, default_value_t = saex_corpus::HELDOUT_EVERY)]
    heldout_every: usize,
    /// Tokens to measure at most.
    #[arg(long, default_value_t = 500_000)]
    max_tokens: usize,
    /// Tokens per text.
    #[arg(long, default_value_t = 128)]
    ctx: usize,
    /// Output; default: feature_stats.safetensors in the SAE directory.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Run it.
pub fn run(args: Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let docs = saex_corpus::read_docs(&args.corpus, saex_corpus::Split::Train(args.heldout_every))?;
    let texts: Vec<&str> = docs.iter().map(|d| d.text.as_str()).collect();
    let session = args.pair.open(false)?;
    let s = saex_engine::feature_stats(&session, 0, &texts, args.ctx, 16, args.max_tokens)?;
    let sae = &session.saes[0];
    let path = args.out.clone().unwrap_or_else(|| sae.sae.source().join(saex_engine::STATS_FILE));
    let meta =
        [("corpus", args.corpus.display().to_string()), ("model", session.model.info.source.clone()), ("hook", sae.hook.to_string())];
    s.save(&path, &meta)?;
    let m = s.firing_rate.len();
    writeln!(
        out,
        "{} tokens; {}/{m} features fire, {} dead, {} dense (> 10% of tokens); wrote {}",
        s.n_tokens,
        m - s.dead(),
        s.dead(),
        s.dense(),
        path.display()
    )?;
    Ok(())
}
