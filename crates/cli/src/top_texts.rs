//! `saex top-texts`: where chosen features fire hardest in a corpus (runs the model over it).

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
    let mut docs = saex_corpus::read_docs(&args.corpus, saex_corpus::Split::All)?;
    docs.truncate(args.max_texts);
    let refs: Vec<&str> = docs.iter().map(|d| d.text.as_str()).collect();
    let session = args.pair.open(false)?;
    let res = saex_engine::top_texts(&session, 0, &refs, &args.features, args.k, args.ctx, args.context)?;
    if args.json {
        serde_json::to_writer(&mut *out, &res)?;
        writeln!(out)?;
        return Ok(());
    }
    let show = crate::table::show;
    for f in &res {
        let label = session.saes[0].label(f.feature_id).map(|l| format!(" — {l}")).unwrap_or_default();
        writeln!(out, "feature {}{label}   (activation, then the text with [[the token]] where it peaks)", f.feature_id)?;
        for e in &f.examples {
            writeln!(out, "  {:>8.3}  {}[[{}]]{}", e.act, show(&e.before), show(&e.token), show(&e.after))?;
        }
    }
    Ok(())
}
