//! `saex eval`: reconstruction quality and spliced-in loss of an SAE on a text file.

use std::io::Write;

/// Arguments of `saex eval`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pair: crate::sae_args::ModelSae,
    /// The evaluation text (UTF-8), cut into chunks of --ctx tokens.
    #[arg(long, required_unless_present = "corpus")]
    text_file: Option<std::path::PathBuf>,
    /// Or a JSONL corpus (saex corpus build): its held-out lines are the evaluation texts.
    #[arg(long, conflicts_with = "text_file")]
    corpus: Option<std::path::PathBuf>,
    /// With --corpus: every n-th line is held out (as `saex train --heldout-every`); 0: all lines.
    #[arg(long, default_value_t = 20)]
    heldout_every: usize,
    /// Tokens per chunk, bos included.
    #[arg(long, default_value_t = 128)]
    ctx: usize,
    /// Chunks per forward pass.
    #[arg(long, default_value_t = 4)]
    batch: usize,
    /// Evaluate at most this many chunks (0: all).
    #[arg(long, default_value_t = 0)]
    max_chunks: usize,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Run it.
pub fn run(args: Args, out: &mut dyn Write) -> anyhow::Result<()> {
    use anyhow::Context;
    let texts: Vec<String> = match (&args.text_file, &args.corpus) {
        (Some(f), _) => vec![std::fs::read_to_string(f).with_context(|| format!("{}", f.display()))?],
        (None, Some(c)) => {
            saex_corpus::read_docs(c, saex_corpus::Split::Heldout(args.heldout_every))?.into_iter().map(|d| d.text).collect()
        }
        (None, None) => anyhow::bail!("give --text-file or --corpus"),
    };
    let session = args.pair.open(true)?;
    let opts = saex_engine::EvalOptions { ctx: args.ctx, batch: args.batch, max_chunks: args.max_chunks };
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let r = saex_engine::eval(&session.pair(0), &refs, opts)?;
    if args.json {
        serde_json::to_writer(&mut *out, &r)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(out, "hook                {}", r.hook)?;
    writeln!(out, "tokens              {} in {} chunks (bos left out)", r.n_tokens, r.n_sequences)?;
    writeln!(out, "L0                  {:.2}", r.l0)?;
    writeln!(out, "explained variance  {:.4}", r.explained_variance)?;
    writeln!(out, "MSE                 {:.4e}", r.mse)?;
    writeln!(out, "dead features       {} ({:.1}%)", r.dead_features, 100.0 * r.dead_fraction)?;
    writeln!(out, "dense features      {} (fire on >10% of tokens)", r.dense_features)?;
    writeln!(out, "CE loss clean       {:.4}", r.ce_loss_clean)?;
    writeln!(out, "CE loss with SAE    {:.4}", r.ce_loss_with_sae)?;
    writeln!(out, "CE loss zero-abl.   {:.4}", r.ce_loss_zero_ablation)?;
    writeln!(out, "CE loss recovered   {:.4}", r.ce_loss_recovered)?;
    Ok(())
}
