//! `saex train`: a TopK SAE on a model's activations over a corpus, in SAELens format.

use std::io::Write;
use std::path::PathBuf;

use saex_model::{LoadOptions, Model};
use saex_train::TrainOptions;

/// Arguments of `saex train`.
#[derive(clap::Args)]
pub struct Args {
    /// A .gguf file, a Hugging Face model directory, or a hub id in the local HF cache.
    #[arg(long)]
    model: String,
    /// The hook to train on, e.g. blocks.6.hook_resid_pre.
    #[arg(long)]
    hook: String,
    /// JSONL corpus with a "text" field per line (saex corpus build).
    #[arg(long)]
    corpus: PathBuf,
    /// Output directory: the SAE (SAELens format), training.json, and checkpoint/.
    #[arg(long)]
    out: PathBuf,
    /// topk (TopK + AuxK) or standard (ReLU + L1).
    #[arg(long, default_value = "topk")]
    architecture: String,
    /// Number of features.
    #[arg(long, default_value_t = 4096)]
    d_sae: usize,
    /// L1 coefficient (standard architecture; inputs are scaled to norm sqrt(d_in)).
    #[arg(long, default_value_t = 5.0)]
    l1_coeff: f32,
    /// Active features per token (TopK).
    #[arg(long, default_value_t = 32)]
    k: usize,
    /// Training tokens.
    #[arg(long, default_value_t = 2_000_000)]
    tokens: u64,
    /// Tokens per step.
    #[arg(long, default_value_t = 4096)]
    batch: usize,
    /// Peak learning rate (Adam).
    #[arg(long, default_value_t = 5e-4)]
    lr: f32,
    /// Warm-up steps.
    #[arg(long, default_value_t = 100)]
    warmup_steps: u64,
    /// Fraction of training after which the learning rate decays linearly to 0.
    #[arg(long, default_value_t = 0.8)]
    decay_start: f64,
    /// AuxK: dead features used to reconstruct the residual.
    #[arg(long, default_value_t = 256)]
    aux_k: usize,
    /// AuxK loss coefficient.
    #[arg(long, default_value_t = 1.0 / 32.0)]
    aux_coeff: f32,
    /// A feature silent for this many tokens is dead.
    #[arg(long, default_value_t = 200_000)]
    dead_tokens: u64,
    /// Tokens per corpus text (longer texts are cut).
    #[arg(long, default_value_t = 128)]
    ctx: usize,
    /// Texts per model forward pass.
    #[arg(long, default_value_t = 16)]
    model_batch: usize,
    /// Activations in the shuffling buffer (tokens).
    #[arg(long, default_value_t = 65_536)]
    buffer: usize,
    /// Every n-th corpus line is held out for evaluation (0: none).
    #[arg(long, default_value_t = 20)]
    heldout_every: usize,
    /// Seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Continue the run whose checkpoint is in --out (same options required).
    #[arg(long)]
    resume: bool,
    /// Stop with a checkpoint once this many steps are done (continue later with --resume).
    #[arg(long)]
    stop_at_step: Option<u64>,
}

/// Run it.
pub fn run(a: Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let hook: saex_hooks::Hook = a.hook.parse()?;
    let model = Model::load_with(&a.model, LoadOptions::for_hooks(&[hook], false).with_dtype(crate::dtype()))?;
    let opts = TrainOptions {
        model: a.model.clone(),
        hook: a.hook.clone(),
        architecture: a.architecture.clone(),
        d_sae: a.d_sae,
        k: a.k,
        l1_coeff: a.l1_coeff,
        tokens: a.tokens,
        batch: a.batch,
        lr: a.lr,
        warmup_steps: a.warmup_steps,
        decay_start: a.decay_start,
        aux_k: a.aux_k,
        aux_coeff: a.aux_coeff,
        dead_tokens: a.dead_tokens,
        ctx: a.ctx,
        model_batch: a.model_batch,
        buffer: a.buffer,
        heldout_every: a.heldout_every,
        seed: a.seed,
    };
    let bar = indicatif::ProgressBar::new(a.tokens / a.batch as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} steps {elapsed_precise} (eta {eta}) {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let ctl = saex_train::RunControl { resume: a.resume, stop_at_step: a.stop_at_step };
    let report = saex_train::train(&model, &a.corpus, &a.out, &opts, ctl, &mut |p| {
        bar.set_position(p.step);
        bar.set_message(format!(
            "{:.0} tok/s  mse {:.3}  ev {:.3}  L0 {:.1}  dead {:.1}%",
            p.tokens_per_s,
            p.stats.mse,
            p.stats.explained_variance,
            p.stats.l0,
            100.0 * p.dead_fraction
        ));
    })?;
    bar.finish();
    let Some(report) = report else {
        writeln!(out, "stopped at step {:?} with a checkpoint in {}; continue with --resume", a.stop_at_step, a.out.display())?;
        return Ok(());
    };
    writeln!(
        out,
        "trained {} steps, {} tokens in {:.0} s: explained variance {:.3}, L0 {:.1}, dead {:.1}%; wrote {}",
        report.steps,
        report.tokens,
        report.seconds,
        report.final_explained_variance,
        report.final_l0,
        100.0 * report.dead_fraction,
        a.out.display()
    )?;
    Ok(())
}
