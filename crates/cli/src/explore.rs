//! `saex explore` and `saex concept`: the exploration notebook (seed 001).

use std::io::Write;
use std::path::PathBuf;

use saex_analysis::top::Reduce;
use saex_engine::{CategorizedText, ConceptRequest, ExploreRequest};

/// Arguments of `saex explore`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pair: crate::sae_args::ModelSae,
    /// JSONL: `{"text": …, "category": …}` per line.
    #[arg(long)]
    data: PathBuf,
    /// The field naming each line's category.
    #[arg(long, default_value = "category")]
    category_field: String,
    /// One vector per text: last (the notebook's: the last token), mean, max or sum.
    #[arg(long, default_value = "last")]
    reduce: String,
    /// "Strong" means an activation above this.
    #[arg(long, default_value_t = 5.0)]
    strong: f32,
    /// Write the report page here (self-contained HTML).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn read_texts(path: &std::path::Path, field: &str) -> anyhow::Result<Vec<CategorizedText>> {
    let docs = saex_corpus::read_docs(path, saex_corpus::Split::All)?;
    // read_docs keeps `category`; another field name is read from the raw line.
    if field == "category" {
        return Ok(docs.into_iter().map(|d| CategorizedText { text: d.text, category: d.category.unwrap_or_default() }).collect());
    }
    let raw = std::fs::read_to_string(path)?;
    let lines: Vec<&str> = raw.lines().collect();
    Ok(docs
        .into_iter()
        .map(|d| {
            let v: serde_json::Value = serde_json::from_str(lines[d.line]).unwrap_or_default();
            CategorizedText { text: d.text, category: v.get(field).and_then(|c| c.as_str()).unwrap_or("").to_string() }
        })
        .collect())
}

/// Run it.
pub fn run(args: Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let reduce: Reduce = args.reduce.parse()?;
    let texts = read_texts(&args.data, &args.category_field)?;
    let session = args.pair.open(false)?;
    let r = saex_engine::explore(&session, &ExploreRequest { sae_id: None, texts, reduce, strong: args.strong })?;
    if let Some(path) = &args.out {
        let sub = format!(
            "{} · SAE {} at {} · {} texts, one {} vector each",
            session.model.info.name,
            r.sae_id,
            session.saes[0].hook,
            r.texts.len(),
            r.reduce
        );
        crate::pages::write(path, &saex_report::explore_page("Feature exploration", &sub, &r)?)?;
    }
    if args.json {
        serde_json::to_writer(&mut *out, &r)?;
        writeln!(out)?;
        return Ok(());
    }
    let e = &r.exploration;
    let lab = |f: u32| r.labels.get(&f).map(|l| format!(" — {l}")).unwrap_or_default();
    writeln!(out, "{} texts · one vector per text: {} · strong = activation > {}", e.n_texts, r.reduce, e.strong)?;
    if let Some(x) = e.strongest.first() {
        writeln!(out, "strongest:      #{} (max {:.2}){}", x.feature_id, x.value, lab(x.feature_id))?;
    }
    if let Some(x) = e.frequent.first() {
        writeln!(out, "most frequent:  #{} (active in {}/{} texts){}", x.feature_id, x.value, e.n_texts, lab(x.feature_id))?;
    }
    if let Some(x) = e.selective.first() {
        writeln!(out, "most selective: #{} (strong in {}/{} texts){}", x.feature_id, x.value, e.n_texts, lab(x.feature_id))?;
    }
    for c in &e.categories {
        let verdict = match (c.specialist, c.true_specialist) {
            (Some(f), true) => format!("specialist #{f}{}", lab(f)),
            (Some(_), false) => "no true specialist (best score 0)".into(),
            (None, _) => "no specialist".into(),
        };
        let top: Vec<String> = c
            .top
            .iter()
            .map(|x| format!("#{} {:.1} ({}−{}={})", x.feature_id, x.max, x.strong_inside, x.strong_outside, x.specialist_score))
            .collect();
        writeln!(out, "  {:<16} {verdict}   top: {}", c.category, top.join(", "))?;
    }
    match &e.best_specialist {
        Some((c, f, s)) => writeln!(out, "best specialist: #{f} for {c} (score {s}){}", lab(*f))?,
        None => writeln!(out, "no category has a true specialist")?,
    }
    writeln!(out, "(top: feature, max over the category, strong inside − strong outside = specialist score)")?;
    if let Some(p) = &args.out {
        writeln!(out, "wrote {}", p.display())?;
    }
    Ok(())
}

/// Arguments of `saex concept`.
#[derive(clap::Args)]
pub struct ConceptArgs {
    #[command(flatten)]
    pair: crate::sae_args::ModelSae,
    /// Texts sharing a concept, one per line.
    #[arg(long)]
    texts_file: PathBuf,
    /// "Strong" means an activation above this.
    #[arg(long, default_value_t = 5.0)]
    strong: f32,
    /// Features per ranking.
    #[arg(long, default_value_t = 5)]
    k: usize,
    /// One vector per text: last (the notebook's), mean, max or sum.
    #[arg(long, default_value = "last")]
    reduce: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Run `saex concept`.
pub fn run_concept(args: ConceptArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    use anyhow::Context;
    let texts: Vec<String> = std::fs::read_to_string(&args.texts_file)
        .with_context(|| format!("{}", args.texts_file.display()))?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    let session = args.pair.open(false)?;
    let req = ConceptRequest { sae_id: None, texts, reduce: args.reduce.parse()?, strong: args.strong, k: args.k };
    let r = saex_engine::concept(&session, &req)?;
    if args.json {
        serde_json::to_writer(&mut *out, &r)?;
        writeln!(out)?;
        return Ok(());
    }
    let c = &r.concept;
    let lab = |f: u32| r.labels.get(&f).map(|l| format!(" — {l}")).unwrap_or_default();
    writeln!(out, "by strong-activation consistency (texts with activation > {}):", c.strong)?;
    for x in &c.by_consistency {
        writeln!(
            out,
            "  #{:<6} strong {}/{} · fired {}/{} · mean when fired {:.2}{}",
            x.feature_id,
            x.strong,
            c.n_texts,
            x.active,
            c.n_texts,
            x.mean_when_active,
            lab(x.feature_id)
        )?;
    }
    writeln!(out, "by mean strength over the texts where it fired:")?;
    for x in &c.by_strength {
        writeln!(
            out,
            "  #{:<6} mean {:.2} · fired {}/{} · strong {}{}",
            x.feature_id,
            x.mean_when_active,
            x.active,
            c.n_texts,
            x.strong,
            lab(x.feature_id)
        )?;
    }
    Ok(())
}
