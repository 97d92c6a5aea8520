//! `saex drift`: the same prompts discovered on two models, compared (seed 002, "Alignment").

use std::io::Write;
use std::path::PathBuf;

use saex_analysis::discover::{request_from_line, DiscoverRequest};
use saex_engine::{Session, SessionOptions};

/// Arguments of `saex drift`.
#[derive(clap::Args)]
pub struct Args {
    /// Model A.
    #[arg(long)]
    model_a: String,
    /// Model B (same width at the SAEs' hooks).
    #[arg(long)]
    model_b: String,
    /// The SAE(s), read at the same hook in both models.
    #[arg(long, required = true)]
    sae: Vec<String>,
    /// JSONL prompts: `{"prompt": …}` or `{"text": …}` (plus any discover field) per line.
    #[arg(long)]
    prompts: PathBuf,
    /// Generate a continuation of each prompt (each model its own; default: analyse the
    /// prompt as is, the same tokens under both models).
    #[arg(long)]
    generate: bool,
    /// Features per discovery.
    #[arg(long, default_value_t = 25)]
    return_top_x: usize,
    /// entropy or norm.
    #[arg(long, default_value = "entropy")]
    token_filter: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Also write a self-contained HTML page.
    #[arg(long)]
    html: Option<PathBuf>,
}

/// Run it.
pub fn run(args: Args, out: &mut dyn Write) -> anyhow::Result<()> {
    use anyhow::Context;
    let base = DiscoverRequest {
        generate: Some(args.generate),
        return_top_x: args.return_top_x,
        token_filter: args.token_filter.parse()?,
        ..Default::default()
    };
    let raw = std::fs::read_to_string(&args.prompts).with_context(|| format!("{}", args.prompts.display()))?;
    let reqs = raw
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let mut r = request_from_line(&base, l).with_context(|| format!("{}: line {}", args.prompts.display(), i + 1))?;
            if r.text.is_some() {
                r.generate = None;
            }
            Ok(r)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let open = |m: &str| -> anyhow::Result<Session> {
        crate::opened(Session::open(m, &args.sae, SessionOptions { logits: true, ..crate::session_options() })?)
    };
    let (a, b) = (open(&args.model_a)?, open(&args.model_b)?);
    let bar = indicatif::ProgressBar::new((2 * reqs.len()) as u64).with_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} discoveries · eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let d = saex_engine::drift_sessions(&a, &b, &reqs, &mut |n, _| bar.set_position(n as u64))?;
    bar.finish_and_clear();
    if let Some(p) = &args.html {
        crate::pages::write(p, &saex_report::drift_page("Feature drift", &format!("A: {} · B: {}", d.model_a, d.model_b), &d)?)?;
    }
    if args.json {
        serde_json::to_writer(&mut *out, &d)?;
        writeln!(out)?;
        return Ok(());
    }
    let f = |x: Option<f64>| x.map_or("–".into(), |v| format!("{v:.3}"));
    writeln!(out, "A: {}\nB: {}", d.model_a, d.model_b)?;
    writeln!(
        out,
        "{} prompts · Spearman mean {} median {} · B returns {:.0}% of A's features on average",
        d.prompts.len(),
        f(d.mean_spearman),
        f(d.median_spearman),
        100.0 * d.mean_overlap
    )?;
    for p in &d.prompts {
        writeln!(
            out,
            "  ρ {:>6}  shared {:>3}  +{:<3} −{:<3} {}",
            f(p.spearman),
            p.shared,
            p.gained.len(),
            p.lost.len(),
            crate::table::show(&crate::table::clip(&p.text, 60))
        )?;
    }
    let list = |v: &[saex_analysis::drift::Counted]| {
        v.iter().take(8).map(|c| format!("#{} ({})", c.feature.feature_id, c.prompts)).collect::<Vec<_>>().join(", ")
    };
    writeln!(out, "most gained: {}", list(&d.most_gained))?;
    writeln!(out, "most lost:   {}", list(&d.most_lost))?;
    writeln!(out, "(ρ: Spearman's rank correlation of the scores over the union of features; +gained by B, −lost by B)")?;
    if let Some(p) = &args.html {
        writeln!(out, "wrote {}", p.display())?;
    }
    Ok(())
}
