//! `saex dashboard`: self-contained feature dashboards from an index, and a page to browse
//! and search them.

use std::io::Write;
use std::path::PathBuf;

use saex_engine::index_store::Index;
use saex_engine::IndexLabels;

/// Arguments of `saex dashboard`.
#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("which").required(true).multiple(false))]
pub struct Args {
    /// The index folder (saex index build).
    #[arg(long)]
    index: PathBuf,
    /// These features.
    #[arg(long, value_delimiter = ',', group = "which")]
    features: Vec<u32>,
    /// The N features firing on the most tokens.
    #[arg(long, group = "which")]
    top_frequent: Option<usize>,
    /// Every feature that fires at least once.
    #[arg(long, group = "which")]
    all: bool,
    /// Every feature a label catalog names.
    #[arg(long, group = "which")]
    labelled: bool,
    /// The SAE, when the index holds several.
    #[arg(long)]
    sae: Option<String>,
    /// Label catalogs (the SAE directory's own labels.jsonl is read when present).
    #[arg(long)]
    labels: Vec<PathBuf>,
    /// A folder (index.html to browse + features/N.html), or a .html file for one page
    /// holding every chosen dashboard.
    #[arg(long)]
    out: PathBuf,
}

/// Run it.
pub fn run(args: Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let index = Index::open(&args.index).map_err(saex_engine::from_index)?;
    let labels = IndexLabels::load(&index, &args.labels, Some(&crate::registry()))?;
    let sae = args.sae.as_deref();
    let summaries = saex_engine::summaries(&index, sae, &labels)?;
    let chosen: Vec<u32> = if args.labelled {
        summaries.iter().filter(|s| s.label.is_some()).map(|s| s.feature_id).collect()
    } else if args.all {
        summaries.iter().filter(|s| s.stats.firing_count > 0).map(|s| s.feature_id).collect()
    } else if let Some(n) = args.top_frequent {
        let mut by: Vec<&saex_engine::FeatureSummary> = summaries.iter().collect();
        by.sort_by(|a, b| b.stats.firing_count.cmp(&a.stats.firing_count).then(a.feature_id.cmp(&b.feature_id)));
        by.iter().take(n).map(|s| s.feature_id).collect()
    } else {
        args.features.clone()
    };
    let s = index.manifest.sae(sae).map_err(saex_engine::from_index)?;
    let subtitle = format!(
        "{} · {} · {} tokens of {} documents",
        index.manifest.model.name, s.id, index.manifest.corpus.tokens, index.manifest.corpus.docs
    );
    let record = |f: u32| saex_engine::feature(&index, sae, f, &labels);
    if args.out.extension().is_some_and(|e| e == "html") {
        let records = chosen.iter().map(|&f| record(f)).collect::<saex_engine::Result<Vec<_>>>()?;
        crate::pages::write(&args.out, &saex_report::dashboard_page("Feature dashboards", &subtitle, &records)?)?;
        writeln!(out, "wrote {} ({} dashboards)", args.out.display(), records.len())?;
        return Ok(());
    }
    let dir = args.out.join("features");
    std::fs::create_dir_all(&dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    for &f in &chosen {
        let r = record(f)?;
        let title = format!("Feature {f}{}", r.label.as_deref().map(|l| format!(" — {l}")).unwrap_or_default());
        crate::pages::write(&dir.join(format!("{f}.html")), &saex_report::dashboard_page(&title, &subtitle, &[r])?)?;
    }
    let listed: Vec<&saex_engine::FeatureSummary> = summaries.iter().filter(|s| chosen.contains(&s.feature_id)).collect();
    crate::pages::write(&args.out.join("index.html"), &saex_report::browse_page("Features", &subtitle, &listed, "features/{id}.html")?)?;
    writeln!(out, "wrote {} dashboards and {}", chosen.len(), args.out.join("index.html").display())?;
    Ok(())
}
