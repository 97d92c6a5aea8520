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
    let session = saex_engine::Session::open(&args.model, &[], saex_engine::SessionOptions { logits: true, ..crate::session_options() })?;
    let s = args.sampling.sampling();
    let req = saex_engine::GenerateRequest {
        prompt: args.prompt.clone(),
        max_new_tokens: args.sampling.max_tokens,
        temperature: s.temperature,
        top_p: s.top_p,
        seed: s.seed,
        bos: !args.no_bos,
    };
    let g = saex_engine::generate(&session, &req, None)?;
    if args.json {
        let o = Output { prompt: &g.prompt, prompt_ids: &g.prompt_ids, ids: &g.ids, text: &g.text };
        serde_json::to_writer(&mut *out, &o)?;
        writeln!(out)?;
    } else {
        writeln!(out, "{}{}", g.prompt, g.text)?;
    }
    Ok(())
}
