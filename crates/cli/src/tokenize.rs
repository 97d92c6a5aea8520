//! `saex tokenize`: ids and pieces.

use std::io::Write;

use serde::Serialize;

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

#[derive(Serialize)]
struct Token {
    id: u32,
    piece: String,
    start: usize,
    end: usize,
}

#[derive(Serialize)]
struct Output {
    ids: Vec<u32>,
    pieces: Vec<String>,
    tokens: Vec<Token>,
}

/// Run it.
pub fn run(args: Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let text = args.text.read()?;
    let model = crate::load_model(&args.model)?;
    let tok = &model.tokenizer;
    let (ids, offsets) = tok.encode_with_offsets(&text, model.add_bos() && !args.no_bos)?;
    let tokens: Vec<Token> = ids
        .iter()
        .zip(&offsets)
        .map(|(&id, &(start, end))| Token { id, piece: tok.id_to_piece(id).unwrap_or_default(), start, end })
        .collect();
    if args.json {
        let output = Output {
            ids: ids.clone(),
            pieces: tokens.iter().map(|t| t.piece.clone()).collect(),
            tokens,
        };
        serde_json::to_writer(&mut *out, &output)?;
        writeln!(out)?;
    } else {
        for (i, t) in tokens.iter().enumerate() {
            writeln!(out, "{i:>5} {:>8} {:?}", t.id, t.piece)?;
        }
    }
    Ok(())
}
