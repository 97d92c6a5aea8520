//! `saex tokenize`: ids and pieces.

use std::io::Write;


/// Arguments of `saex tokenize`.
#[derive(clap::Args)]
pub struct Args {
    /// A .gguf file, a Hugging Face model directory, or a hub id in the local HF cache.
    #[arg(long)]
    model: String,
    #[command(flatten)]
    text: crate::TextSource,
    /// Do not prepend the bos token.
    #[arg(long)]
    no_bos: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Run it.
pub fn run(args: Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let text = args.text.read()?;
    let model = crate::load_model(&args.model)?;
    let output = saex_engine::tokenize(&model, &text, model.add_bos() && !args.no_bos)?;
    if args.json {
        serde_json::to_writer(&mut *out, &output)?;
        writeln!(out)?;
    } else {
        for (i, t) in output.tokens.iter().enumerate() {
            writeln!(out, "{i:>5} {:>8} {:?}", t.id, t.piece)?;
        }
    }
    Ok(())
}
