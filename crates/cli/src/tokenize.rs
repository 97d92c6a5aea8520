//! `saex tokenize`: ids and pieces. Loads only the tokenizer.

use std::io::Write;

/// Arguments of `saex tokenize`.
#[derive(clap::Args)]
pub struct Args {
    /// A .gguf file, a Hugging Face model directory, or a hub id in the local HF cache (only
    /// its tokenizer is read).
    #[arg(long)]
    model: String,
    #[command(flatten)]
    text: crate::TextSource,
    /// Do not prepend the bos token.
    #[arg(long)]
    no_bos: bool,
    /// Print JSON: ids, pieces, and each token's span in code points (`start`, `end`) and
    /// UTF-8 bytes (`byte_start`, `byte_end`).
    #[arg(long)]
    json: bool,
}

/// Run it.
pub fn run(args: Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let text = args.text.read()?;
    let tok = saex_model::load::tokenizer(&args.model)?;
    let output = saex_engine::tokenize(&tok, &text, tok.add_bos_default() && !args.no_bos)?;
    if args.json {
        serde_json::to_writer(&mut *out, &output)?;
        writeln!(out)?;
    } else {
        writeln!(out, "{:>5} {:>8}  piece  (position, id in the vocabulary, piece as stored)", "pos", "id")?;
        for (i, t) in output.tokens.iter().enumerate() {
            writeln!(out, "{i:>5} {:>8}  {}", t.id, crate::table::show(&t.piece))?;
        }
    }
    Ok(())
}
