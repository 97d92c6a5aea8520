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
    match &info.sparsity {
        Some(s) => writeln!(out, "sparsity      dead {}  dense (>10%) {}  median log10 freq {:.2}", s.dead, s.dense, s.median_log10_frequency)?,
        None => writeln!(out, "sparsity      - (no sparsity.safetensors)")?,
    }
    Ok(())
}
