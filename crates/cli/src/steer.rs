//! `saex steer`: generate with SAE decoder directions added at the SAE's hook; `--compare`
//! also shows the unsteered text with the same sampling and seed.

use std::io::Write;

use saex_engine::{SteerFeature, SteerRequest};

/// Arguments of `saex steer`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pair: crate::sae_args::ModelSae,
    /// FEATURE=COEFFICIENT, e.g. 342=+5 or 424=-3: adds COEFFICIENT × W_dec[FEATURE] to the
    /// hook at every position (repeat for several). The coefficient is in units of the
    /// feature's activation; compare it with the feature's max from `saex sae-stats`.
    #[arg(long, required = true, allow_hyphen_values = true, value_name = "FEATURE=COEFFICIENT")]
    feature: Vec<String>,
    /// The prompt.
    #[arg(long)]
    prompt: String,
    #[command(flatten)]
    sampling: crate::sampling_args::SamplingArgs,
    /// Also generate without steering (same sampling and seed) and show both.
    #[arg(long)]
    compare: bool,
    /// Print JSON (the `Steered` object).
    #[arg(long)]
    json: bool,
}

/// Run it.
pub fn run(args: Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let features = args.feature.iter().map(|f| f.parse::<SteerFeature>()).collect::<Result<Vec<_>, _>>()?;
    let session = args.pair.open(true)?;
    let sampling = args.sampling.sampling();
    let req = SteerRequest {
        model_id: None,
        sae_id: None,
        prompt: args.prompt.clone(),
        features,
        max_new_tokens: args.sampling.max_tokens,
        temperature: sampling.temperature,
        top_p: sampling.top_p,
        seed: sampling.seed,
        compare: args.compare,
    };
    let s = saex_engine::steer(&session, &req, None)?;
    if args.json {
        serde_json::to_writer(&mut *out, &s)?;
        writeln!(out)?;
        return Ok(());
    }
    match &s.baseline {
        None => writeln!(out, "{}{}", s.prompt, s.steered)?,
        Some(baseline) => {
            let list: Vec<String> = s.features.iter().map(|f| format!("{}={:+}", f.feature_id, f.coefficient)).collect();
            writeln!(out, "── steered ({} at {}) ──", list.join(", "), s.hook)?;
            writeln!(out, "{}{}", s.prompt, s.steered)?;
            writeln!(out, "── baseline (no steering) ──")?;
            writeln!(out, "{}{baseline}", s.prompt)?;
        }
    }
    Ok(())
}
