//! `saex sae-info`: what an SAE is.

use std::io::Write;

/// Arguments of `saex sae-info`.
#[derive(clap::Args)]
pub struct Args {
    /// An SAE directory or SAELens release name.
    sae: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Run it.
pub fn run(args: Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let sae = saex_sae::Sae::load(&args.sae)?;
    let info = saex_engine::sae_info(&sae)?;
    if args.json {
        serde_json::to_writer(&mut *out, &info)?;
        writeln!(out)?;
        return Ok(());
    }
    let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
    writeln!(out, "source        {}", info.source)?;
    writeln!(out, "format        {}", info.format)?;
    writeln!(out, "architecture  {}{}", info.architecture, info.k.map(|k| format!(" (k = {k})")).unwrap_or_default())?;
    writeln!(out, "shape         d_in {} × d_sae {}", info.d_in, info.d_sae)?;
    writeln!(out, "hook          {}", opt(&info.hook))?;
    writeln!(out, "model         {}", opt(&info.model_name))?;
    writeln!(out, "dtype         {}", info.dtype)?;
    writeln!(out, "normalize     {} (apply_b_dec_to_input: {})", info.normalize_activations, info.apply_b_dec_to_input)?;
    writeln!(out, "neuronpedia   {}", opt(&info.neuronpedia_id))?;
    let [lo, mean, hi] = info.decoder_norm;
    writeln!(out, "decoder norms min {lo:.3}  mean {mean:.3}  max {hi:.3}")?;
    match &info.density {
        Some(d) => {
            let over = match (d.source.as_str(), d.n_tokens) {
                ("feature_stats", Some(n)) => format!("over {n} reference-corpus tokens (feature_stats.safetensors)"),
                _ => "over the SAE's training tokens (sparsity.safetensors)".to_string(),
            };
            writeln!(
                out,
                "density       dead {}  dense (> 10% of tokens) {}  median log10 rate {:.2}  — {over}",
                d.dead, d.dense, d.median_log10_rate
            )?;
        }
        None => writeln!(out, "density       - (no feature_stats.safetensors or sparsity.safetensors)")?,
    }
    writeln!(
        out,
        "ref. stats    {}",
        if info.reference_stats { "yes (feature_stats.safetensors: discover's τ and density gate)" } else { "no (run saex sae-stats)" }
    )?;
    writeln!(out, "labels        {}", if info.labels > 0 { format!("{} in labels.jsonl", info.labels) } else { "none".into() })?;
    Ok(())
}
