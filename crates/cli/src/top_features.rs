//! `saex top-features`: the features that matter most for a text (or several), as a table,
//! JSON, and optionally an HTML page with each text's tokens shaded by its top feature.

use std::io::Write;
use std::path::PathBuf;

use saex_engine::{Encoded, Reduce};

/// Arguments of `saex top-features`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pair: crate::sae_args::ModelSae,
    /// A text to analyse (repeat for several).
    #[arg(long, required_unless_present = "text_file")]
    text: Vec<String>,
    /// A file holding one text (UTF-8).
    #[arg(long, conflicts_with = "text")]
    text_file: Option<PathBuf>,
    /// How many features.
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// How a feature's activations over the tokens become one score: max, mean, sum, or
    /// last (the last token's activation).
    #[arg(long, default_value = "max")]
    reduce: String,
    /// Do not prepend the bos token.
    #[arg(long)]
    no_bos: bool,
    /// Print JSON (one object per text, one per line).
    #[arg(long)]
    json: bool,
    /// Also write a self-contained HTML page: each text's tokens shaded by its top feature.
    #[arg(long)]
    html: Option<PathBuf>,
}

/// Tokens (as they appear in the text) with `feature`'s activation; bos left out.
fn shaded(enc: &Encoded, text: &str, feature: u32) -> Vec<saex_report::TokenAct> {
    let start = usize::from(enc.has_bos);
    (start..enc.tokens.len())
        .map(|i| {
            let (a, b) = enc.offsets[i];
            let act = enc.acts.token(i).and_then(|(fs, vs)| fs.binary_search(&feature).ok().map(|j| vs[j])).unwrap_or(0.0);
            saex_report::TokenAct { text: text.get(a..b).unwrap_or("").to_string(), act }
        })
        .collect()
}

/// Run it.
pub fn run(args: Args, out: &mut dyn Write) -> anyhow::Result<()> {
    use anyhow::Context;
    let reduce: Reduce = args.reduce.parse()?;
    let texts = match &args.text_file {
        Some(f) => vec![std::fs::read_to_string(f).with_context(|| format!("{}", f.display()))?],
        None => args.text.clone(),
    };
    let (model, sae, hook) = args.pair.load(false)?;
    let pair = crate::sae_args::pair(&model, &sae, hook)?;
    let piece = |id: u32| model.tokenizer.id_to_piece(id).unwrap_or_default();
    let mut sections = Vec::new();
    for text in &texts {
        let enc = saex_engine::encode(&pair, text, model.add_bos() && !args.no_bos)?;
        let features = saex_engine::top_features(&enc, args.k, reduce, piece);
        if args.json {
            let o = saex_engine::TopReport {
                model: model.info.source.clone(),
                sae: args.pair.sae.clone(),
                hook: hook.to_string(),
                reduce: args.reduce.clone(),
                text: text.clone(),
                n_tokens: enc.tokens.len(),
                features: features.clone(),
            };
            serde_json::to_writer(&mut *out, &o)?;
            writeln!(out)?;
        } else {
            if texts.len() > 1 {
                writeln!(out, "\n{text:?}")?;
            }
            writeln!(out, "{:>4}  {:>8}  {:>10}  peak at token", "rank", "feature", args.reduce)?;
            for (i, f) in features.iter().enumerate() {
                writeln!(out, "{:>4}  {:>8}  {:>10.3}  {:>4} {:?} ({:.3})", i + 1, f.feature, f.value, f.peak_position, f.peak_token, f.peak_value)?;
            }
        }
        if let Some(top) = features.first() {
            sections.push(saex_report::Section {
                title: text.chars().take(60).collect(),
                feature: top.feature,
                tokens: shaded(&enc, text, top.feature),
                top: features
                    .iter()
                    .map(|f| saex_report::FeatureRow { feature: f.feature, value: f.value, peak_token: f.peak_token.clone(), label: None })
                    .collect(),
            });
        }
    }
    if let Some(path) = &args.html {
        let sub = format!("{} · SAE {} at {hook} · ranked by {}", model.info.name, args.pair.sae, args.reduce);
        std::fs::write(path, saex_report::highlight_page("Top SAE features", &sub, &sections)).with_context(|| format!("{}", path.display()))?;
        if !args.json {
            writeln!(out, "wrote {}", path.display())?;
        }
    }
    Ok(())
}
