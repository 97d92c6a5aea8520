//! `saex highlight`: a text shaded by chosen features (seed 003's
//! `visualize_feature_activations`), as a self-contained page.

use std::io::Write;
use std::path::PathBuf;

use saex_engine::HighlightRequest;
use saex_report::TextView;

/// Arguments of `saex highlight`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pair: crate::sae_args::ModelSae,
    #[command(flatten)]
    text: crate::TextSource,
    /// The features, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    features: Vec<u32>,
    /// The page to write.
    #[arg(long)]
    out: PathBuf,
    /// Also print the values as JSON.
    #[arg(long)]
    json: bool,
}

/// Run it.
pub fn run(args: Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let text = args.text.read()?;
    let session = args.pair.open(false)?;
    let h = saex_engine::highlight(&session, &HighlightRequest { sae_id: None, text, features: args.features.clone() })?;
    let view = TextView::highlight(&h.text, h.tokens.clone(), h.features.iter().map(|f| (f.feature_id, f.label.clone(), f.acts.clone())));
    let sub = format!("{} · SAE {} at {}", session.model.info.name, session.saes[0].id, session.saes[0].hook);
    crate::pages::write(&args.out, &saex_report::texts_page("Feature activations", &sub, &[view])?)?;
    if args.json {
        serde_json::to_writer(&mut *out, &h)?;
        writeln!(out)?;
    } else {
        writeln!(out, "wrote {}", args.out.display())?;
    }
    Ok(())
}
