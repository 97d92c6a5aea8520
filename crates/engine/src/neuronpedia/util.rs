//! `/v1/tokenize`, `/v1/util/sae-vector`, `/v1/util/sae-topk-by-decoder-cossim` and what
//! `GET /v1/models` lists.

use candle_core::DType;

use super::types::*;
use super::{feature_index, fin, folds, token_strings, Neuronpedia, MAX_COSSIM_RESULTS};
use crate::error::{Error, Result};
use crate::neighbors::{directions, top_cosines, By};
use crate::session::Session;

/// `POST /v1/tokenize` (Neuronpedia's form): ids and token strings; `prepend_bos` defaults
/// to the model's own setting.
pub fn tokenize(session: &Session, np: &Neuronpedia, req: &NpTokenizeRequest) -> Result<NpTokenizeResponse> {
    np.check_model(&req.model)?;
    let tok = &session.model.tokenizer;
    let prepend_bos = req.prepend_bos.unwrap_or(session.model.add_bos()) && tok.bos_id().is_some();
    let ids = session.tokenize_ids(&req.text, prepend_bos)?;
    np.check_length(ids.len(), false)?;
    Ok(NpTokenizeResponse { token_strings: token_strings(session, &ids), tokens: ids, prepend_bos })
}

/// `POST /v1/util/sae-vector`: the feature's encoder column (times ‖W_dec[f]‖ when
/// Neuronpedia folds the SAE's decoder norms) and the SAE's hook.
pub fn sae_vector(session: &Session, np: &Neuronpedia, req: &SaeVectorRequest) -> Result<SaeVectorResponse> {
    np.check_model(&req.model)?;
    let src = np.source(&req.source)?;
    let index = match &req.index {
        FeatureIndex::Int(i) => *i,
        FeatureIndex::Str(s) => s.trim().parse().map_err(|_| Error::Invalid(format!("Invalid feature index: {s:?}")))?,
    };
    let f = feature_index(np, session, src, index)?;
    let s = &session.saes[src.sae];
    let col: Vec<f32> = s.sae.w_enc().narrow(1, f as usize, 1)?.squeeze(1)?.to_dtype(DType::F32)?.to_vec1()?;
    let norm = if folds(&s.sae) { src.dec_norms.as_ref().map_or(1.0, |n| n[f as usize]) } else { 1.0 };
    Ok(SaeVectorResponse { vector: col.into_iter().map(|x| fin(x * norm)).collect(), hook_name: s.hook.to_string() })
}

/// `POST /v1/util/sae-topk-by-decoder-cossim`: the features of `source` whose decoder rows
/// are most cosine-similar to the query's (exact, [`crate::neighbors()`]).
pub fn sae_topk_by_decoder_cossim(session: &Session, np: &Neuronpedia, req: &CossimRequest) -> Result<CossimResponse> {
    np.check_model(&req.model)?;
    let src = np.source(&req.source)?;
    let s = &session.saes[src.sae];
    let dirs = directions(s.sae.w_enc(), s.sae.w_dec(), By::Decoder)?;
    let query = match (&req.feature, &req.vector) {
        (Some(f), None) => {
            np.check_model(&f.model)?;
            let qsrc = np.source(&f.source)?;
            let i = feature_index(np, session, qsrc, f.index)?;
            let q = &session.saes[qsrc.sae].sae;
            if q.d_in() != s.sae.d_in() {
                return Err(Error::Invalid(format!("{} has d_in {}; {} has {}", qsrc.id, q.d_in(), src.id, s.sae.d_in())));
            }
            directions(q.w_enc(), q.w_dec(), By::Decoder)?.row(i as usize)?
        }
        (None, Some(v)) => {
            if v.len() != s.sae.d_in() {
                return Err(Error::Invalid(format!("vector has {} values; {} has d_in {}", v.len(), src.id, s.sae.d_in())));
            }
            candle_core::Tensor::new(v.as_slice(), &candle_core::Device::Cpu)?
        }
        _ => return Err(Error::Invalid("Invalid request data: exactly one of feature or vector must be provided".into())),
    };
    let k = (req.num_results.max(1) as usize).min(MAX_COSSIM_RESULTS);
    let top = top_cosines(&dirs, &[query], k)?.remove(0);
    Ok(CossimResponse {
        feature: req.feature.clone(),
        topk_decoder_cossim_features: top
            .into_iter()
            .map(|n| CossimItem {
                feature: NpFeatureRef { model: req.model.clone(), source: src.id.clone(), index: i64::from(n.feature_id) },
                cosine_similarity: fin(n.cosine),
            })
            .collect(),
    })
}

/// What the Neuronpedia routes serve (listed by `GET /v1/models`).
pub fn models(session: &Session, np: &Neuronpedia) -> NpModels {
    NpModels {
        model: np.model.clone(),
        sources: np
            .sources
            .iter()
            .map(|src| {
                let s = &session.saes[src.sae];
                NpSourceInfo {
                    id: src.id.clone(),
                    set: src.set.clone(),
                    sae_id: s.id.clone(),
                    hook: s.hook.to_string(),
                    d_sae: s.sae.d_sae(),
                    decoder_norm_scaled: src.dec_norms.is_some(),
                }
            })
            .collect(),
        source_sets: np.sets(),
        token_limit: np.token_limit,
    }
}
