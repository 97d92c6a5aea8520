//! `saex sae-stats`: per-feature activation statistics over a corpus, saved next to the SAE.

use std::io::Write;
use std::path::PathBuf;

use candle_core::{Device, Tensor};

/// Arguments of `saex sae-stats`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pair: crate::sae_args::ModelSae,
    /// JSONL corpus (saex corpus build); its training lines (not the held-out ones) are read.
    #[arg(long)]
    corpus: PathBuf,
    /// Lines `saex train --heldout-every` held out are skipped (0: use every line).
    #[arg(long, default_value_t = 20)]
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
    let all = crate::corpus::read_texts(&args.corpus, 0)?;
    let texts: Vec<&str> = all
        .iter()
        .enumerate()
        .filter(|(i, _)| !(args.heldout_every > 0 && i % args.heldout_every == 0))
        .map(|(_, t)| t.as_str())
        .collect();
    let (model, sae, hook) = args.pair.load(false)?;
    let pair = crate::sae_args::pair(&model, &sae, hook)?;
    let s = saex_engine::feature_stats(&pair, &texts, args.ctx, 16, args.max_tokens)?;
    let path = args.out.clone().unwrap_or_else(|| sae.source().join("feature_stats.safetensors"));
    let m = s.firing_rate.len();
    let t = |v: &[f32]| Tensor::from_slice(v, m, &Device::Cpu);
    let tensors = vec![
        ("firing_rate".to_string(), t(&s.firing_rate)?),
        ("mean".to_string(), t(&s.mean)?),
        ("mean_nonzero".to_string(), t(&s.mean_nonzero)?),
        ("p95".to_string(), t(&s.p95)?),
        ("max".to_string(), t(&s.max)?),
    ];
    let meta = [
        ("n_tokens", s.n_tokens.to_string()),
        ("corpus", args.corpus.display().to_string()),
        ("model", model.info.source.clone()),
        ("hook", hook.to_string()),
        ("p95", "95th percentile of the nonzero activations (nearest rank)".to_string()),
    ];
    crate::output::save_safetensors(&path, &tensors, &meta)?;
    let alive = s.firing_rate.iter().filter(|&&r| r > 0.0).count();
    writeln!(out, "{} tokens; {alive}/{m} features fire; wrote {}", s.n_tokens, path.display())?;
    Ok(())
}
