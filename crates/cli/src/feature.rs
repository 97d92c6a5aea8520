//! `saex feature`: everything an index knows about one feature.

use std::io::Write;
use std::path::PathBuf;

use saex_engine::index_store::Index;
use saex_engine::IndexLabels;

/// Arguments of `saex feature`.
#[derive(clap::Args)]
pub struct Args {
    /// The index folder (saex index build).
    #[arg(long)]
    index: PathBuf,
    /// The feature id.
    feature: u32,
    /// The SAE, when the index holds several (its id or folder name).
    #[arg(long)]
    sae: Option<String>,
    /// Label catalogs (saex or Neuronpedia format); the SAE directory's own labels.jsonl is
    /// read when it is on this machine.
    #[arg(long)]
    labels: Vec<PathBuf>,
    /// Print JSON (the record `GET /v1/features/{sae}/{n}` returns).
    #[arg(long)]
    json: bool,
}

/// Run it.
pub fn run(args: Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let index = Index::open(&args.index).map_err(saex_engine::from_index)?;
    let labels = IndexLabels::load(&index, &args.labels, Some(&crate::registry()))?;
    let r = saex_engine::feature(&index, args.sae.as_deref(), args.feature, &labels)?;
    if args.json {
        serde_json::to_writer(&mut *out, &r)?;
        writeln!(out)?;
        return Ok(());
    }
    use crate::table::show;
    let s = &r.stats;
    writeln!(out, "feature {} of {}{}", r.feature_id, r.sae_id, r.label.as_deref().map(|l| format!(" — {l}")).unwrap_or_default())?;
    writeln!(
        out,
        "density {:.3}% ({} of {} tokens) · mean {:.4} · mean when firing {:.3} · P95 {:.3} · max {:.3}",
        100.0 * s.firing_rate,
        s.firing_count,
        s.n_tokens,
        s.mean,
        s.mean_nonzero,
        s.p95,
        s.max
    )?;
    if let Some(l) = &r.logits {
        let list = |v: &[saex_engine::index_store::record::TokenValue]| {
            v.iter().take(8).map(|t| format!("{} {:+.2}", show(&t.token), t.value)).collect::<Vec<_>>().join(", ")
        };
        writeln!(out, "boosts:     {}", list(&l.boosted))?;
        writeln!(out, "suppresses: {}", list(&l.suppressed))?;
    }
    let mut cats: Vec<_> = r.categories.iter().filter(|c| c.count > 0).collect();
    cats.sort_by(|a, b| (b.count as f64 / b.tokens.max(1) as f64).total_cmp(&(a.count as f64 / a.tokens.max(1) as f64)));
    let cats: Vec<String> =
        cats.iter().take(6).map(|c| format!("{} {:.2}%", c.category, 100.0 * c.count as f64 / c.tokens.max(1) as f64)).collect();
    writeln!(out, "by category: {}", cats.join(", "))?;
    writeln!(out, "top examples (activation, [[the token]] in its window):")?;
    for e in r.top.iter().take(10) {
        let before: String = e.tokens[..e.peak as usize].concat();
        let after: String = e.tokens[e.peak as usize + 1..].concat();
        writeln!(out, "  {:>8.3}  {}[[{}]]{}", e.act, show(&before), show(&e.tokens[e.peak as usize]), show(&after))?;
    }
    Ok(())
}
