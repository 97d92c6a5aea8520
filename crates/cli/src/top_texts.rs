//! `saex top-texts`: where chosen features fire hardest in a corpus.

use std::io::Write;
use std::path::PathBuf;

/// Arguments of `saex top-texts`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pair: crate::sae_args::ModelSae,
    /// JSONL corpus (saex corpus build).
    #[arg(long)]
    corpus: PathBuf,
    /// Feature ids, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    features: Vec<u32>,
    /// Examples per feature.
    #[arg(long, default_value_t = 5)]
    k: usize,
    /// Corpus texts to scan at most.
    #[arg(long, default_value_t = 5000)]
    max_texts: usize,
    /// Tokens per text.
    #[arg(long, default_value_t = 128)]
    ctx: usize,
    /// Characters of context either side of the token.
    #[arg(long, default_value_t = 40)]
    context: usize,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Run it.
pub fn run(args: Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut texts = crate::corpus::read_texts(&args.corpus, 0)?;
    texts.truncate(args.max_texts);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let (model, sae, hook) = args.pair.load(false)?;
    let pair = crate::sae_args::pair(&model, &sae, hook)?;
    let res = saex_engine::top_texts(&pair, &refs, &args.features, args.k, args.ctx, args.context)?;
    if args.json {
        serde_json::to_writer(&mut *out, &res)?;
        writeln!(out)?;
        return Ok(());
    }
    for f in &res {
        writeln!(out, "feature {}", f.feature)?;
        for e in &f.examples {
            let flat = |s: &str| s.replace('\n', "⏎").replace('\t', "⇥");
            writeln!(out, "  {:>8.3}  {}[[{}]]{}", e.act, flat(&e.before), flat(&e.token), flat(&e.after))?;
        }
    }
    Ok(())
}
