//! `top-texts` without an index: the texts where chosen features fire hardest (mlxterp's
//! `get_top_texts_for_feature`), each with its peak token in context. Runs the model over
//! every text; the activation index answers the same question from disk.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::session::Session;

/// One activating example.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
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
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FeatureExamples {
    /// The SAE.
    pub sae_id: String,
    /// Feature id.
    pub feature_id: u32,
    /// Examples, strongest first (at most one per text).
    pub examples: Vec<Example>,
}

/// Heap key: activation, then (text, position) so ties have one order.
#[derive(PartialEq)]
struct Key(f32, Reverse<usize>, Reverse<usize>);

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

/// Texts per forward pass.
const BATCH: usize = 8;

/// For each of `features` of SAE `sae`, the `k` texts where it fires hardest (the peak token
/// of each; ties: earlier text, earlier token), with `context` characters either side; each
/// text cut to `ctx_tokens`. bos is left out.
pub fn top_texts(
    session: &Session,
    sae: usize,
    texts: &[&str],
    features: &[u32],
    k: usize,
    ctx_tokens: usize,
    context: usize,
) -> Result<Vec<FeatureExamples>> {
    let d_sae = session.saes[sae].sae.d_sae();
    if let Some(&f) = features.iter().find(|&&f| f as usize >= d_sae) {
        return Err(Error::field("features", format!("feature {f} is out of range (d_sae {d_sae})")));
    }
    let model = &session.model;
    let mut heaps: Vec<BinaryHeap<Reverse<Key>>> = features.iter().map(|_| BinaryHeap::new()).collect();
    let mut offsets_of: Vec<Vec<(usize, usize)>> = Vec::with_capacity(texts.len());
    let mut pending: Vec<(usize, Vec<u32>)> = Vec::new();
    let flush = |pending: &mut Vec<(usize, Vec<u32>)>, heaps: &mut Vec<BinaryHeap<Reverse<Key>>>| -> Result<()> {
        let seqs: Vec<Vec<u32>> = pending.iter().map(|(_, ids)| ids.clone()).collect();
        for ((ti, _), enc) in pending.iter().zip(session.encode_batch(&[sae], &seqs)?) {
            let acts = &enc.codes[0];
            for (fi, heap) in heaps.iter_mut().enumerate() {
                // The text's peak for this feature (first of equal peaks).
                let mut best: Option<(f32, usize)> = None;
                for p in enc.first_real()..acts.n_tokens() {
                    let v = acts.get(p, features[fi]);
                    if v > 0.0 && best.is_none_or(|(b, _)| v > b) {
                        best = Some((v, p));
                    }
                }
                if let Some((v, p)) = best {
                    heap.push(Reverse(Key(v, Reverse(*ti), Reverse(p))));
                    if heap.len() > k {
                        heap.pop();
                    }
                }
            }
        }
        pending.clear();
        Ok(())
    };
    for (ti, text) in texts.iter().enumerate() {
        let (mut ids, mut offs) = model.tokenizer.encode_with_offsets(text, model.add_bos()).map_err(saex_model::Error::from)?;
        ids.truncate(ctx_tokens);
        offs.truncate(ctx_tokens);
        offsets_of.push(offs);
        if ids.len() > session.bos_skip(&ids) {
            pending.push((ti, ids));
        }
        if pending.len() == BATCH {
            flush(&mut pending, &mut heaps)?;
        }
    }
    if !pending.is_empty() {
        flush(&mut pending, &mut heaps)?;
    }
    Ok(features
        .iter()
        .zip(heaps)
        .map(|(&f, heap)| {
            let mut keys: Vec<Key> = heap.into_iter().map(|Reverse(k)| k).collect();
            keys.sort_by(|a, b| b.cmp(a));
            let examples = keys
                .into_iter()
                .map(|Key(act, Reverse(ti), Reverse(p))| {
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
            FeatureExamples { sae_id: session.saes[sae].id.clone(), feature_id: f, examples }
        })
        .collect())
}
