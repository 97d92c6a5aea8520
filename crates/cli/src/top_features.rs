//! `saex top-features`: the features that matter most for a text.

use std::io::Write;

use saex_engine::Reduce;
use serde::Serialize;

/// Arguments of `saex top-features`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pair: crate::sae_args::ModelSae,
    #[command(flatten)]
    text: crate::TextSource,
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
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Output<'a> {
    model: &'a str,
    sae: &'a str,
    hook: String,
    reduce: &'a str,
    n_tokens: usize,
    features: Vec<saex_engine::TopFeature>,
}

/// Run it.
pub fn run(args: Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let reduce: Reduce = args.reduce.parse()?;
    let text = args.text.read()?;
    let (model, sae, hook) = args.pair.load(false)?;
    let pair = crate::sae_args::pair(&model, &sae, hook)?;
    let enc = saex_engine::encode(&pair, &text, model.add_bos() && !args.no_bos)?;
    let piece = |id: u32| model.tokenizer.id_to_piece(id).unwrap_or_default();
    let features = saex_engine::top_features(&enc, args.k, reduce, piece);
    if args.json {
        let o = Output { model: &model.info.source, sae: &args.pair.sae, hook: hook.to_string(), reduce: &args.reduce, n_tokens: enc.tokens.len(), features };
        serde_json::to_writer(&mut *out, &o)?;
        writeln!(out)?;
    } else {
        writeln!(out, "{:>4}  {:>8}  {:>10}  peak at token", "rank", "feature", args.reduce)?;
        for (i, f) in features.iter().enumerate() {
            writeln!(out, "{:>4}  {:>8}  {:>10.3}  {:>4} {:?} ({:.3})", i + 1, f.feature, f.value, f.peak_position, f.peak_token, f.peak_value)?;
        }
    }
    Ok(())
}
