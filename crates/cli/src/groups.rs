//! `saex groups build | select`: group-discriminative features (seed 000).

use std::io::Write;
use std::path::PathBuf;

use saex_analysis::groups::Thresholds;
use saex_engine::{GroupsBuildRequest, GroupsReport, SelectOptions};

/// `saex groups ...`
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// One feature vector per response (mean, max, last and sum over its tokens), per group
    /// the mean: seed 000's .npz layout in DIR.
    Build(BuildArgs),
    /// The features that tell the groups apart: C1 preference ratio, C2 firing rate, C3
    /// coefficient of variation, as seed 000 computes them.
    Select(SelectArgs),
}

#[derive(clap::Args)]
struct BuildArgs {
    #[command(flatten)]
    pair: crate::sae_args::ModelSae,
    /// JSONL: one response per line, `{"<group-field>": …, "text": …}`; with --generate,
    /// one question per line, `{"<group-field>": …, "system"?: …, "prompt": …}`.
    #[arg(long)]
    data: PathBuf,
    /// The field naming each line's group.
    #[arg(long, default_value = "role")]
    group_field: String,
    /// Output folder: aggregated/{strategy}/per_role.npz, features/{group}.npz, groups.json.
    #[arg(long)]
    out: PathBuf,
    /// Write only these strategies (mean, max, last, sum; repeat or comma-separate; default all).
    #[arg(long, value_delimiter = ',')]
    strategy: Vec<String>,
    /// The model answers each line's prompt through its chat template, at most N new tokens;
    /// only the answers' tokens are aggregated (they are written to DIR/responses.jsonl).
    #[arg(long, value_name = "N")]
    generate: Option<usize>,
    /// Sampling temperature of --generate (0: greedy).
    #[arg(long, default_value_t = 0.7, requires = "generate")]
    temperature: f64,
    /// Nucleus mass of --generate.
    #[arg(long, default_value_t = 0.9, requires = "generate")]
    top_p: f64,
    /// Seed of --generate: line n samples with seed + n.
    #[arg(long, default_value_t = 0, requires = "generate")]
    seed: u64,
}

#[derive(clap::Args)]
struct SelectArgs {
    /// A folder `saex groups build` wrote (or seed 000's own layout).
    dir: PathBuf,
    /// mean, max, last or sum.
    #[arg(long, default_value = "mean")]
    strategy: String,
    /// C1: the preferred group's activation ≥ this × the mean of the others.
    #[arg(long, default_value_t = 5.0)]
    min_preference_ratio: f64,
    /// C2: fires in at least this share of the preferred group's responses.
    #[arg(long, default_value_t = 0.5)]
    min_firing_rate: f64,
    /// C3: coefficient of variation across groups at least this.
    #[arg(long, default_value_t = 0.5)]
    min_cv: f64,
    /// Search C1 and C2's thresholds for LO..HI features per group (e.g. 10..20).
    #[arg(long, value_parser = parse_range)]
    target_per_group: Option<[usize; 2]>,
    /// Features shown per group in the table.
    #[arg(long, default_value_t = 20)]
    k: usize,
    /// Label catalogs (the SAE directory's own labels.jsonl is read when it is here).
    #[arg(long)]
    labels: Vec<PathBuf>,
    /// Print JSON.
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// Print CSV, one row per selected feature.
    #[arg(long)]
    csv: bool,
}

fn parse_range(s: &str) -> Result<[usize; 2], String> {
    let (a, b) = s.split_once("..").ok_or_else(|| format!("{s:?}: expected LO..HI, e.g. 10..20"))?;
    let n = |x: &str| x.trim().parse::<usize>().map_err(|_| format!("{s:?}: {x:?} is not a count"));
    Ok([n(a)?, n(b)?])
}

/// Run it.
pub fn run(args: Args, out: &mut dyn Write) -> anyhow::Result<()> {
    match args.command {
        Command::Build(a) => {
            let session = a.pair.open(a.generate.is_some())?;
            let req = GroupsBuildRequest {
                data: a.data.clone(),
                group_field: a.group_field.clone(),
                out: a.out.clone(),
                strategies: a.strategy.clone(),
                generate: a.generate.map(|n| saex_engine::GenerateSpec {
                    max_new_tokens: n,
                    temperature: a.temperature,
                    top_p: a.top_p,
                    seed: a.seed,
                }),
            };
            let bar = indicatif::ProgressBar::new(0).with_style(
                indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} responses · {elapsed} · eta {eta}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let m = saex_engine::groups_build(&session, &req, &mut |n, total| {
                bar.set_length(total as u64);
                bar.set_position(n as u64);
            })?;
            bar.finish_and_clear();
            let per: Vec<String> = m.responses.iter().map(|(g, n)| format!("{g} {n}")).collect();
            writeln!(out, "{} groups ({}); wrote {}", m.groups.len(), per.join(", "), a.out.display())?;
            if !m.skipped.is_empty() {
                let lines: Vec<String> = m.skipped.iter().take(5).map(|s| format!("line {}: {}", s.line, s.reason)).collect();
                writeln!(out, "skipped {} lines ({}{})", m.skipped.len(), lines.join("; "), if m.skipped.len() > 5 { "; …" } else { "" })?;
            }
            if m.truncated > 0 {
                writeln!(out, "{} responses were cut to the model's context", m.truncated)?;
            }
            Ok(())
        }
        Command::Select(a) => select(a, out),
    }
}

fn select(a: SelectArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let (m, v) = saex_engine::read_groups(&a.dir)?;
    let dir = std::path::Path::new(&m.sae_id);
    let labels = saex_engine::labels::for_sae(
        &m.sae_id,
        m.neuronpedia_id.as_deref(),
        None,
        dir.is_dir().then_some(dir),
        &a.labels,
        Some(&crate::registry()),
    )?;
    let np = m.neuronpedia_id.clone();
    let opts = SelectOptions {
        strategy: a.strategy.clone(),
        thresholds: Thresholds { min_preference_ratio: a.min_preference_ratio, min_firing_rate: a.min_firing_rate, min_cv: a.min_cv },
        target_per_group: a.target_per_group,
    };
    let r = saex_engine::select_groups(&v, &m.sae_id, &opts, &|f| {
        (labels.get(&f).cloned(), np.as_ref().map(|id| format!("https://www.neuronpedia.org/{id}/{f}")))
    })?;
    if a.json {
        serde_json::to_writer(&mut *out, &r)?;
        writeln!(out)?;
    } else if a.csv {
        write_csv(&r, out)?;
    } else {
        print_table(&r, a.k, out)?;
    }
    Ok(())
}

fn write_csv(r: &GroupsReport, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(["group", "rank", "feature_id", "act", "ratio", "cv", "firing_rate", "label", "neuronpedia_url"])?;
    for g in &r.groups {
        for (i, f) in g.features.iter().enumerate() {
            let x = &f.selected;
            w.write_record([
                g.group.clone(),
                (i + 1).to_string(),
                x.feature_id.to_string(),
                x.act.to_string(),
                x.ratio.map_or("inf".into(), |v| v.to_string()),
                x.cv.to_string(),
                x.firing_rate.to_string(),
                f.label.clone().unwrap_or_default(),
                f.neuronpedia_url.clone().unwrap_or_default(),
            ])?;
        }
    }
    w.flush()?;
    Ok(())
}

fn print_table(r: &GroupsReport, k: usize, out: &mut dyn Write) -> anyhow::Result<()> {
    let t = r.thresholds;
    writeln!(
        out,
        "strategy {} · C1 ratio ≥ {}: {} · C3 cv ≥ {}: {} · candidates {} · C2 firing ≥ {}: {} selected",
        r.strategy,
        t.min_preference_ratio,
        r.c1,
        t.min_cv,
        r.c3,
        r.candidates,
        t.min_firing_rate,
        r.selected.len()
    )?;
    for g in &r.groups {
        writeln!(out, "\n=== {} ({} features, {} responses) ===", g.group, g.features.len(), g.responses)?;
        for f in g.features.iter().take(k) {
            let x = &f.selected;
            let ratio = x.ratio.map_or("inf".to_string(), |v| format!("{v:.1}"));
            let extra = [f.label.clone(), f.neuronpedia_url.clone()].into_iter().flatten().collect::<Vec<_>>().join("  ");
            writeln!(
                out,
                "  {:>6}  act={:.4}  ratio={ratio}x  cv={:.2}  fire={:.0}%  {extra}",
                x.feature_id,
                x.act,
                x.cv,
                100.0 * x.firing_rate
            )?;
        }
    }
    if !r.single_response_groups.is_empty() {
        writeln!(out, "\nnote: {} have a single response: their firing rate is 0 or 100%", r.single_response_groups.join(", "))?;
    }
    writeln!(out, "(act: the group's mean activation; ratio: it ÷ the other groups' mean; cv: std/mean across groups; fire: share of the group's responses where it fires)")?;
    Ok(())
}
