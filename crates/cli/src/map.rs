//! `saex map`: seed 000's feature map — the chosen features' decoder rows in 2-D, as a page
//! (and their coordinates as JSON).

use std::io::Write;
use std::path::PathBuf;

use saex_engine::{MapMethod, MapRequest, RankBy, SelectOptions};

/// Arguments of `saex map`.
#[derive(clap::Args)]
pub struct Args {
    /// The model (optional: the map reads only the SAE's decoder; with it, the report names
    /// the model and the SAE is checked against it).
    #[arg(long)]
    model: Option<String>,
    /// An SAE directory or SAELens release name.
    #[arg(long)]
    sae: String,
    /// The hook the SAE reads (with --model); default: the SAE's own hook_name.
    #[arg(long, requires = "model")]
    hook: Option<String>,
    /// These features (comma-separated).
    #[arg(long, value_delimiter = ',')]
    features: Vec<u32>,
    /// A folder `saex groups build` wrote: colour by preferred group; without --features or
    /// --top, map the features seed 000's three conditions select.
    #[arg(long)]
    groups: Option<PathBuf>,
    /// The groups' aggregation: mean, max, last or sum.
    #[arg(long, default_value = "mean")]
    strategy: String,
    /// A corpus index of this SAE (saex index build): adds each feature's corpus firing rate
    /// and maximum.
    #[arg(long)]
    index: Option<PathBuf>,
    /// Map the index's N features with the highest --by.
    #[arg(long, requires = "index")]
    top: Option<usize>,
    /// What ranks the index's features for --top.
    #[arg(long, value_enum, default_value = "firing-rate")]
    by: By,
    /// umap (cosine, 15 neighbours, min_dist 0.1, as the seed) or pca.
    #[arg(long, value_enum, default_value = "umap")]
    method: Method,
    /// UMAP's seed (the seed's random_state).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// The page.
    #[arg(long)]
    out: PathBuf,
    /// Also write the map as JSON (every feature's coordinates and hover fields).
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Method {
    Umap,
    Pca,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum By {
    FiringRate,
    Max,
}

/// Run it.
pub fn run(args: Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let req = MapRequest {
        features: (!args.features.is_empty()).then(|| args.features.clone()),
        groups: args.groups.clone(),
        select: SelectOptions { strategy: args.strategy.clone(), ..Default::default() },
        index: args.index.clone(),
        top: args.top,
        rank_by: match args.by {
            By::FiringRate => RankBy::FiringRate,
            By::Max => RankBy::Max,
        },
        method: match args.method {
            Method::Umap => MapMethod::Umap,
            Method::Pca => MapMethod::Pca,
        },
        seed: args.seed,
        ..Default::default()
    };
    let (r, model) = match &args.model {
        Some(model) => {
            let pair = crate::sae_args::ModelSae { model: model.clone(), sae: args.sae.clone(), hook: args.hook.clone() };
            let session = pair.open(false)?;
            (saex_engine::map(&session, &req)?, session.model.info.name.clone())
        }
        None => {
            let r = saex_engine::map_sae(&args.sae, &[], &crate::registry(), &req)?;
            let model = if r.model_id.is_empty() { "no model".to_string() } else { r.model_id.clone() };
            (r, model)
        }
    };
    let sub = format!("{model} · SAE {} · {} features", r.sae_id, r.points.len());
    crate::pages::write(&args.out, &saex_report::map_page("Feature decoder map", &sub, &r)?)?;
    if let Some(p) = &args.json {
        let text = serde_json::to_string(&r)? + "\n";
        saex_engine::atomic::write(p, text.as_bytes())?;
    }
    let method = match r.method {
        MapMethod::Umap => format!("UMAP, cosine, n_neighbors {}, min_dist {}, seed {}", r.n_neighbors, r.min_dist, r.seed),
        MapMethod::Pca => "PCA".to_string(),
    };
    writeln!(
        out,
        "{} features ({}) · {method} · trustworthiness {:.4} (k {})",
        r.points.len(),
        r.selection,
        r.trustworthiness,
        r.trustworthiness_k
    )?;
    writeln!(out, "wrote {}", args.out.display())?;
    if let Some(p) = &args.json {
        writeln!(out, "wrote {}", p.display())?;
    }
    Ok(())
}
