//! `saex encode`: tokens, the hook's activations and the SAE's feature activations, saved
//! as safetensors.

use std::io::Write;
use std::path::PathBuf;

use candle_core::{DType, Device, Tensor};

/// Arguments of `saex encode`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pair: crate::sae_args::ModelSae,
    #[command(flatten)]
    text: crate::TextSource,
    /// Output safetensors: `tokens` (i64), the hook's activations under its name, and
    /// `feature_acts` f32 `[n_tokens, d_sae]`.
    #[arg(long)]
    out: PathBuf,
    /// Do not prepend the bos token.
    #[arg(long)]
    no_bos: bool,
}

/// Run it.
pub fn run(args: Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let text = args.text.read()?;
    let session = args.pair.open(false)?;
    let model = &session.model;
    let hook = session.saes[0].hook;
    let enc = saex_engine::encode(&session, 0, &text, model.add_bos() && !args.no_bos)?;
    let n = enc.tokens.len();
    let tokens: Vec<i64> = enc.tokens.iter().map(|&t| t as i64).collect();
    let tensors = vec![
        ("tokens".to_string(), Tensor::from_vec(tokens, n, &Device::Cpu)?),
        (hook.to_string(), enc.input.to_dtype(DType::F32)?),
        ("feature_acts".to_string(), enc.acts.to_dense()?),
    ];
    let meta = [
        ("model", model.info.source.clone()),
        ("sae", args.pair.sae.clone()),
        ("hook", hook.to_string()),
        ("saex_version", env!("CARGO_PKG_VERSION").to_string()),
    ];
    crate::output::save_safetensors(&args.out, &tensors, &meta)?;
    writeln!(out, "{n} tokens, {} active (feature, token) pairs; wrote {}", enc.acts.nnz(), args.out.display())?;
    Ok(())
}
