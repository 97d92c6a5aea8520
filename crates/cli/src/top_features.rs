//! `saex top-features`: the features that matter most for a text (or several), as a table,
//! JSON, and optionally an HTML page with each text's tokens shaded by its top feature.

use std::io::Write;
use std::path::PathBuf;

use saex_engine::{Reduce, TopRequest};

/// Arguments of `saex top-features`.
#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("input").required(true).multiple(false))]
pub struct Args {
    #[command(flatten)]
    pair: crate::sae_args::ModelSae,
    /// A text to analyse (repeat for several).
    #[arg(long, group = "input")]
    text: Vec<String>,
    /// A file holding one text (UTF-8).
    #[arg(long, group = "input")]
    text_file: Option<PathBuf>,
    /// How many features.
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// How a feature's activations over the tokens become one score: max, mean, sum, or
    /// last (the last token's activation).
    #[arg(long, default_value = "max")]
    reduce: String,
    /// Skip features firing on more than this share of the SAE's reference-corpus tokens
    /// (dense features, which fire on any text; 1 keeps them). As discover.
    #[arg(long, default_value_t = 0.1)]
    max_density: f64,
    /// Do not prepend the bos token.
    #[arg(long)]
    no_bos: bool,
    /// Print JSON (one object per text, one per line).
    #[arg(long)]
    json: bool,
    /// Also write a self-contained HTML page: each text's tokens shaded by its top feature.
    #[arg(long)]
    html: Option<PathBuf>,
}

/// Run it.
pub fn run(args: Args, out: &mut dyn Write) -> anyhow::Result<()> {
    use anyhow::Context;
    let reduce: Reduce = args.reduce.parse()?;
    let texts = match &args.text_file {
        Some(f) => vec![std::fs::read_to_string(f).with_context(|| format!("{}", f.display()))?],
        None => args.text.clone(),
    };
    let session = args.pair.open(false)?;
    let mut sections = Vec::new();
    for text in &texts {
        let req = TopRequest { k: args.k, reduce, bos: !args.no_bos, max_density: args.max_density, ..TopRequest::new(text.clone()) };
        let (report, enc) = saex_engine::top_with_encoding(&session, &req)?;
        if args.json {
            serde_json::to_writer(&mut *out, &report)?;
            writeln!(out)?;
        } else {
            print_table(&report, texts.len() > 1, out)?;
        }
        if args.html.is_some() {
            sections.push(crate::pages::top_view(&report, &enc));
        }
    }
    if let Some(path) = &args.html {
        let sub =
            format!("{} · SAE {} at {} · ranked by {}", session.model.info.name, session.saes[0].id, session.saes[0].hook, args.reduce);
        crate::pages::write(path, &saex_report::texts_page("Top SAE features", &sub, &sections)?)?;
        if !args.json {
            writeln!(out, "wrote {}", path.display())?;
        }
    }
    Ok(())
}

fn print_table(r: &saex_engine::TopReport, heading: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    use crate::table::{clip, show};
    if heading {
        writeln!(out, "\n{}", show(&clip(&r.text, 100)))?;
    }
    writeln!(out, "{:>4}  {:>7}  {:>8}  {:>7}  {:<18} label", "rank", "feature", r.reduce.to_string(), "density", "peak token (act)")?;
    for (i, f) in r.features.iter().enumerate() {
        let density = f.density.map_or("-".to_string(), |d| format!("{:.2}%", 100.0 * d));
        let peak = format!("{}@{} ({:.2})", show(&f.peak_token), f.peak_position, f.peak_value);
        writeln!(
            out,
            "{:>4}  {:>7}  {:>8.3}  {:>7}  {:<18} {}",
            i + 1,
            f.feature_id,
            f.value,
            density,
            peak,
            f.label.as_deref().unwrap_or("")
        )?;
    }
    writeln!(
        out,
        "({} tokens; {} = the feature's {} activation over them; density = share of reference tokens it fires on; {} dense features skipped, --max-density 1 keeps them)",
        r.n_tokens, r.reduce, r.reduce, r.skipped_dense
    )?;
    Ok(())
}
