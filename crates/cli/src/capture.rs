//! `saex capture`: activations at hook points, saved as safetensors keyed by hook name.

use std::io::Write;
use std::path::{Path, PathBuf};

use candle_core::{DType, Tensor};
use saex_hooks::Hook;

/// Arguments of `saex capture`.
#[derive(clap::Args)]
pub struct Args {
    /// A .gguf file, a Hugging Face model directory, or a hub id in the local HF cache.
    #[arg(long)]
    model: String,
    /// Comma-separated TransformerLens hook names, e.g. blocks.6.hook_resid_pre,ln_final.hook_normalized
    #[arg(long, value_delimiter = ',', required = true)]
    hooks: Vec<String>,
    #[command(flatten)]
    text: crate::TextSource,
    /// Output safetensors file: one f32 tensor per hook `[n_tokens, ...]` plus `tokens` (i64).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Do not prepend the bos token.
    #[arg(long)]
    no_bos: bool,
    /// Dimensions to show per token in the printed summary.
    #[arg(long, default_value_t = 3)]
    top: usize,
    /// Print nothing but errors.
    #[arg(long)]
    quiet: bool,
}

/// Run it.
pub fn run(args: Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let hooks: Vec<Hook> = args.hooks.iter().map(|h| h.trim().parse()).collect::<Result<_, _>>()?;
    let text = args.text.read()?;
    // Only the blocks up to the deepest hook, and no unembedding: peak memory is what the
    // capture touches.
    let opts = saex_engine::SessionOptions { hooks: hooks.clone(), ..crate::session_options() };
    let session = saex_engine::Session::open(&args.model, &[], opts)?;
    let model = &session.model;
    let acts = saex_engine::capture(&session, &hooks, &text, model.add_bos() && !args.no_bos)?;
    if let Some(path) = &args.out {
        save(path, &acts, model)?;
    }
    if !args.quiet {
        summarize(out, &acts, model, args.top)?;
        if let Some(path) = &args.out {
            writeln!(out, "wrote {}", path.display())?;
        }
    }
    Ok(())
}

fn save(path: &Path, acts: &saex_model::Activations, model: &saex_model::Model) -> anyhow::Result<()> {
    let n = acts.tokens.len();
    let tokens: Vec<i64> = acts.tokens.iter().map(|&t| t as i64).collect();
    let mut tensors = vec![("tokens".to_string(), Tensor::from_vec(tokens, n, &candle_core::Device::Cpu)?)];
    for (hook, t) in &acts.hooks {
        tensors.push((hook.to_string(), t.to_dtype(DType::F32)?));
    }
    let hooks = acts.hooks.iter().map(|(h, _)| h.to_string()).collect::<Vec<_>>().join(",");
    let meta = [
        ("model", model.info.source.clone()),
        ("arch", model.info.arch.clone()),
        ("saex_version", env!("CARGO_PKG_VERSION").to_string()),
        ("hooks", hooks),
    ];
    crate::output::save_safetensors(path, &tensors, &meta)
}

/// Per hook, each token's L2 norm and its largest-magnitude dimensions.
fn summarize(out: &mut dyn Write, acts: &saex_model::Activations, model: &saex_model::Model, top: usize) -> anyhow::Result<()> {
    const MAX_ROWS: usize = 64;
    for (hook, t) in &acts.hooks {
        writeln!(out, "{hook} {:?}", t.dims())?;
        let rows = t.flatten_from(1)?.to_vec2::<f32>()?;
        for (i, row) in rows.iter().enumerate().take(MAX_ROWS) {
            let piece = model.tokenizer.id_to_piece(acts.tokens[i]).unwrap_or_default();
            let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
            let mut idx: Vec<usize> = (0..row.len()).collect();
            idx.sort_by(|&a, &b| row[b].abs().total_cmp(&row[a].abs()));
            let tops: Vec<String> = idx.iter().take(top).map(|&j| format!("{j}:{:+.3}", row[j])).collect();
            writeln!(out, "  {i:>4} {:<16} norm {norm:>10.3}  top {}", format!("{piece:?}"), tops.join(" "))?;
        }
        if rows.len() > MAX_ROWS {
            writeln!(out, "  ... {} more tokens", rows.len() - MAX_ROWS)?;
        }
    }
    Ok(())
}
