//! `saex logit-stats`: seed 004's logit-weight distribution of each feature.

use std::io::Write;
use std::path::PathBuf;

use saex_engine::{LogitStatsReport, LogitStatsRequest};

/// Arguments of `saex logit-stats`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pair: crate::sae_args::ModelSae,
    /// These features (comma-separated; default: all).
    #[arg(long, value_delimiter = ',')]
    features: Vec<u32>,
    /// The unembedding as stored (default: TransformerLens's default processing, as seed 004
    /// loads the model: the final norm's weight folded into W_U, W_U centred over the
    /// vocabulary).
    #[arg(long)]
    raw_unembed: bool,
    /// Tokens listed at each end.
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// Move the type thresholds: JSON naming any of high_kurtosis, low_kurtosis, high_skew,
    /// right_skew, negative_skew, low_std, high_std (the rest keep their defaults).
    #[arg(long)]
    thresholds: Option<String>,
    /// Print JSON.
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// Print CSV (one row per feature; the token lists as JSON arrays).
    #[arg(long)]
    csv: bool,
    /// Also write the page of histograms and the skewness-kurtosis scatter.
    #[arg(long)]
    html: Option<PathBuf>,
}

/// Run it.
pub fn run(args: Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let session = args.pair.open(true)?;
    let req = LogitStatsRequest {
        features: (!args.features.is_empty()).then(|| args.features.clone()),
        raw_unembed: args.raw_unembed,
        k: args.k,
        thresholds: args.thresholds.as_deref().map(serde_json::from_str).transpose().map_err(|e| anyhow::anyhow!("--thresholds: {e}"))?,
        ..Default::default()
    };
    let r = saex_engine::logit_stats(&session, &req)?;
    if let Some(p) = &args.html {
        let sub = format!(
            "{} · SAE {} · {} features · W_U {} · vocabulary {}",
            session.model.info.name,
            r.sae_id,
            r.features.len(),
            r.unembed,
            r.vocab
        );
        crate::pages::write(p, &saex_report::logit_stats_page("Logit-weight distributions", &sub, &r)?)?;
    }
    if args.json {
        serde_json::to_writer(&mut *out, &r)?;
        writeln!(out)?;
    } else if args.csv {
        write_csv(&r, out)?;
    } else {
        write_table(&r, out)?;
    }
    if let Some(p) = &args.html {
        if !args.json && !args.csv {
            writeln!(out, "wrote {}", p.display())?;
        }
    }
    Ok(())
}

fn tokens(v: &[saex_engine::index_store::record::TokenValue], n: usize) -> String {
    v.iter().take(n).map(|t| crate::table::show(&t.token)).collect::<Vec<_>>().join(" ")
}

fn write_table(r: &LogitStatsReport, out: &mut dyn Write) -> anyhow::Result<()> {
    writeln!(out, "{} features · W_U {} · vocabulary {} · median std {:.4}", r.features.len(), r.unembed, r.vocab, r.median_std)?;
    writeln!(out, "types: {}", r.types.iter().map(|t| format!("{} {}", t.kind.name(), t.count)).collect::<Vec<_>>().join(", "))?;
    writeln!(out, "{:>7} {:>8} {:>6} {:>7} {:>8}  {:<13} boosted | suppressed", "feature", "std", "std/md", "skew", "kurt", "type")?;
    for f in &r.features {
        writeln!(
            out,
            "{:>7} {:>8.4} {:>6.2} {:>7.2} {:>8.1}  {:<13} {} | {}{}",
            f.feature_id,
            f.std,
            f.std_ratio,
            f.skewness,
            f.kurtosis,
            f.kind.name(),
            tokens(&f.boosted, 5),
            tokens(&f.suppressed, 5),
            f.label.as_ref().map(|l| format!("  — {l}")).unwrap_or_default()
        )?;
    }
    writeln!(out, "(std/md: std over the median of all features; kurtosis is not excess, a normal has 3; types: docs/logit-stats.md)")?;
    Ok(())
}

fn write_csv(r: &LogitStatsReport, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(["feature_id", "mean", "std", "skewness", "kurtosis", "std_ratio", "type", "boosted", "suppressed", "label"])?;
    for f in &r.features {
        w.write_record([
            f.feature_id.to_string(),
            f.mean.to_string(),
            f.std.to_string(),
            f.skewness.to_string(),
            f.kurtosis.to_string(),
            f.std_ratio.to_string(),
            f.kind.name().to_string(),
            serde_json::to_string(&f.boosted.iter().map(|t| t.token.as_str()).collect::<Vec<_>>())?,
            serde_json::to_string(&f.suppressed.iter().map(|t| t.token.as_str()).collect::<Vec<_>>())?,
            f.label.clone().unwrap_or_default(),
        ])?;
    }
    w.flush()?;
    Ok(())
}
