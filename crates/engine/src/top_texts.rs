//! `top-texts`: the corpus snippets where chosen features fire hardest (mlxterp's
//! `get_top_texts_for_feature`), each with the token in context.

use std::collections::BinaryHeap;
use std::cmp::Reverse;

use serde::Serialize;

use crate::error::Result;
use crate::pair::Pair;

/// One activating example.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Example {
    /// The activation.
    pub act: f32,
    /// Index of the text in the input list.
    pub text_index: usize,
    /// Token position in the text (bos = 0 when present).
    pub position: usize,
    /// The token itself.
    pub token: String,
    /// Up to `context` characters before the token.
    pub before: String,
    /// Up to `context` characters after it.
    pub after: String,
}

/// A feature and its best examples, strongest first.
#[derive(Debug, Clone, Serialize)]
pub struct FeatureExamples {
    /// Feature id.
    pub feature: u32,
    /// Examples, strongest first (at most one per text).
    pub examples: Vec<Example>,
}

#[derive(PartialEq)]
struct Key(f32, usize, usize); // act, text, position

impl Eq for Key {}
impl Ord for Key {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&o.0).then(self.1.cmp(&o.1)).then(self.2.cmp(&o.2))
    }
}
impl PartialOrd for Key {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

fn snip(s: &str, from: usize, to: usize) -> &str {
    let mut a = from.min(s.len());
    while !s.is_char_boundary(a) {
        a -= 1;
    }
    let mut b = to.min(s.len());
    while !s.is_char_boundary(b) {
        b += 1;
    }
    &s[a..b]
}

/// For each of `features`, the `k` texts where it fires hardest (the peak token of each),
/// with `context` characters either side. bos is left out.
pub fn top_texts(pair: &Pair, texts: &[&str], features: &[u32], k: usize, ctx_tokens: usize, context: usize) -> Result<Vec<FeatureExamples>> {
    let model = pair.model;
    let mut heaps: Vec<BinaryHeap<Reverse<Key>>> = features.iter().map(|_| BinaryHeap::new()).collect();
    let mut offsets_of: Vec<Vec<(usize, usize)>> = Vec::with_capacity(texts.len());
    for (ti, text) in texts.iter().enumerate() {
        let (mut ids, mut offs) = model.tokenizer.encode_with_offsets(text, model.add_bos()).map_err(saex_model::Error::from)?;
        ids.truncate(ctx_tokens);
        offs.truncate(ctx_tokens);
        offsets_of.push(offs);
        let skip = usize::from(model.add_bos() && ids.first().copied() == model.tokenizer.bos_id());
        if ids.len() <= skip {
            continue;
        }
        let x = model.run(std::slice::from_ref(&ids), &[pair.hook], false)?.remove(0).hooks.remove(0).1;
        let acts = pair.sae.encode_restricted(&pair.sae_input(&x)?, features)?.to_vec2::<f32>()?;
        for (fi, heap) in heaps.iter_mut().enumerate() {
            // The text's peak for this feature.
            let best = (skip..acts.len()).map(|p| (acts[p][fi], p)).max_by(|a, b| a.0.total_cmp(&b.0));
            if let Some((v, p)) = best.filter(|(v, _)| *v > 0.0) {
                heap.push(Reverse(Key(v, ti, p)));
                if heap.len() > k {
                    heap.pop();
                }
            }
        }
    }
    Ok(features
        .iter()
        .zip(heaps)
        .map(|(&f, heap)| {
            let mut ex: Vec<Example> = heap
                .into_iter()
                .map(|Reverse(Key(act, ti, p))| {
                    let (a, b) = offsets_of[ti][p];
                    let t = texts[ti];
                    Example {
                        act,
                        text_index: ti,
                        position: p,
                        token: snip(t, a, b).to_string(),
                        before: snip(t, a.saturating_sub(context), a).to_string(),
                        after: snip(t, b, b + context).to_string(),
                    }
                })
                .collect();
            ex.sort_by(|a, b| b.act.total_cmp(&a.act));
            FeatureExamples { feature: f, examples: ex }
        })
        .collect())
}
