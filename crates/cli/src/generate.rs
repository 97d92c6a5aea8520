//! `saex generate`: greedy or sampled continuation.

use std::io::Write;

use serde::Serialize;

/// Arguments of `saex generate`.
#[derive(clap::Args)]
pub struct Args {
    /// A .gguf file, a Hugging Face model directory, or a hub id in the local HF cache.
    #[arg(long)]
    model: String,
    /// The prompt.
    #[arg(long)]
    prompt: String,
    #[command(flatten)]
    sampling: crate::sampling_args::SamplingArgs,
    /// Do not prepend the bos token.
    #[arg(long)]
    no_bos: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Output<'a> {
    prompt: &'a str,
    prompt_ids: &'a [u32],
    ids: &'a [u32],
    text: &'a str,
}

/// Run it.
pub fn run(args: Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let model = crate::load_model(&args.model)?;
    let prompt_ids = model.tokenizer.encode(&args.prompt, model.add_bos() && !args.no_bos)?;
    let ids = model.generate(&prompt_ids, args.sampling.max_tokens, &args.sampling.sampling())?;
    let text = model.tokenizer.decode(&ids)?;
    if args.json {
        let o = Output { prompt: &args.prompt, prompt_ids: &prompt_ids, ids: &ids, text: &text };
        serde_json::to_writer(&mut *out, &o)?;
        writeln!(out)?;
    } else {
        writeln!(out, "{}{}", args.prompt, text)?;
    }
    Ok(())
}
