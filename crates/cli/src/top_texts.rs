//! `saex top-texts`: where a feature fires hardest. From an index (`--index DIR --feature N`,
//! milliseconds), or by running the model over texts (`--model --sae` with `--corpus` or
//! `--texts-file`).

use std::io::Write;
use std::path::PathBuf;

/// Arguments of `saex top-texts`.
#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("source").required(true).multiple(false))]
pub struct Args {
    /// An index folder (saex index build): answer from it.
    #[arg(long, group = "source", requires = "feature")]
    index: Option<PathBuf>,
    /// The feature (with --index).
    #[arg(long)]
    feature: Option<u32>,
    /// JSONL corpus (saex corpus build) to run the model over.
    #[arg(long, group = "source", requires_all = ["model", "sae", "features"])]
    corpus: Option<PathBuf>,
    /// A file of texts, one per line, to run the model over.
    #[arg(long, group = "source", requires_all = ["model", "sae", "features"])]
    texts_file: Option<PathBuf>,
    /// The model (without --index).
    #[arg(long)]
    model: Option<String>,
    /// The SAE (without --index; with --index, when it holds several).
    #[arg(long)]
    sae: Option<String>,
    /// The hook the SAE reads when it does not say (without --index).
    #[arg(long)]
    hook: Option<String>,
    /// Feature ids, comma-separated (without --index).
    #[arg(long, value_delimiter = ',')]
    features: Vec<u32>,
    /// Examples per feature.
    #[arg(long, default_value_t = 5)]
    k: usize,
    /// Texts to scan at most (without --index).
    #[arg(long, default_value_t = 5000)]
    max_texts: usize,
    /// Tokens per text (without --index).
    #[arg(long, default_value_t = 128)]
    ctx: usize,
    /// Characters of context either side of the token (without --index).
    #[arg(long, default_value_t = 40)]
    context: usize,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Run it.
pub fn run(args: Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let show = crate::table::show;
    if let (Some(dir), Some(f)) = (&args.index, args.feature) {
        let index = saex_engine::index_store::Index::open(dir).map_err(saex_engine::from_index)?;
        let texts = saex_engine::top_texts_indexed(&index, args.sae.as_deref(), f, args.k)?;
        if args.json {
            serde_json::to_writer(&mut *out, &texts)?;
            writeln!(out)?;
            return Ok(());
        }
        writeln!(out, "feature {f}   (activation, token position, category: the window around the token)")?;
        for t in &texts {
            writeln!(out, "  {:>8.3}  {:>4}  {:<14} {}", t.activation, t.position, t.category, show(&t.text))?;
        }
        return Ok(());
    }
    let texts: Vec<String> = match (&args.corpus, &args.texts_file) {
        (Some(c), _) => saex_corpus::read_docs(c, saex_corpus::Split::All)?.into_iter().map(|d| d.text).collect(),
        (None, Some(f)) => {
            use anyhow::Context;
            std::fs::read_to_string(f)
                .with_context(|| format!("{}", f.display()))?
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_string)
                .collect()
        }
        (None, None) => anyhow::bail!("give --index (with --feature), --corpus or --texts-file"),
    };
    let texts: Vec<&str> = texts.iter().take(args.max_texts).map(String::as_str).collect();
    let pair = crate::sae_args::ModelSae {
        model: args.model.clone().unwrap_or_default(),
        sae: args.sae.clone().unwrap_or_default(),
        hook: args.hook.clone(),
    };
    let session = pair.open(false)?;
    let res = saex_engine::top_texts(&session, 0, &texts, &args.features, args.k, args.ctx, args.context)?;
    if args.json {
        serde_json::to_writer(&mut *out, &res)?;
        writeln!(out)?;
        return Ok(());
    }
    for f in &res {
        let label = session.saes[0].label(f.feature_id).map(|l| format!(" — {l}")).unwrap_or_default();
        writeln!(out, "feature {}{label}   (activation, then the text with [[the token]] where it peaks)", f.feature_id)?;
        for e in &f.examples {
            writeln!(out, "  {:>8.3}  {}[[{}]]{}", e.act, show(&e.before), show(&e.token), show(&e.after))?;
        }
    }
    Ok(())
}
