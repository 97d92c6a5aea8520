//! `saex neighbors`: the features whose decoder (or encoder) directions are nearest a
//! feature's, by exact cosine similarity. Geometry of the SAE alone, so no model is loaded.

use std::io::Write;

use saex_engine::{NeighborsBy, NeighborsRequest};

/// Arguments of `saex neighbors`.
#[derive(clap::Args)]
pub struct Args {
    /// An SAE directory or SAELens release name.
    #[arg(long)]
    sae: String,
    /// The query feature.
    #[arg(long)]
    feature: u32,
    /// How many neighbours (the query itself excluded).
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// Compare decoder rows (what features write) or encoder columns (what they read).
    #[arg(long, value_enum, default_value_t = ByArg::Decoder)]
    by: ByArg,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::ValueEnum, Clone, Copy)]
enum ByArg {
    Decoder,
    Encoder,
}

/// Run it.
pub fn run(args: Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let sae = saex_sae::Sae::load(&args.sae)?;
    let by = match args.by {
        ByArg::Decoder => NeighborsBy::Decoder,
        ByArg::Encoder => NeighborsBy::Encoder,
    };
    let req = NeighborsRequest { sae_id: None, feature: Some(args.feature), vector: None, k: args.k, by };
    let found = saex_engine::sae_neighbors(&sae, &req)?;
    if args.json {
        serde_json::to_writer(&mut *out, &found)?;
        writeln!(out)?;
        return Ok(());
    }
    let what = if matches!(by, NeighborsBy::Decoder) { "decoder" } else { "encoder" };
    writeln!(out, "nearest {} features to #{} by {what} cosine ({} features)", found.len(), args.feature, sae.d_sae())?;
    writeln!(out, "{:>4}  {:>7}  {:>7}", "rank", "feature", "cosine")?;
    for (i, n) in found.iter().enumerate() {
        writeln!(out, "{:>4}  {:>7}  {:>7.4}", i + 1, n.feature_id, n.cosine)?;
    }
    Ok(())
}
