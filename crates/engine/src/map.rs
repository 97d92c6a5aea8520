//! `map` (seed 000's "Feature Map"): a 2-D embedding of an SAE's decoder rows — UMAP under
//! the cosine metric as the seed calls it, or PCA — for features named, selected by seed
//! 000's three conditions from a groups folder, or ranked from a corpus index; each point
//! carries what the seed's hover shows (label, preferred group, activation, ratio, firing
//! rate) and, with an index, the corpus's firing rate and maximum.
//!
//! The layout itself is [`saex_analysis::embedding`]: pure, seeded and bit-reproducible, so
//! the same request gives the same report byte for byte.

use std::path::PathBuf;

use candle_core::{DType, Tensor};
use saex_analysis::embedding::{pca, trustworthiness, umap, UmapParams};
use saex_index::record::Stats;
use saex_index::Index;
use saex_sae::Sae;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::groups::{read_groups, select_groups, strategy_index, SelectOptions};
use crate::index::from_index;
use crate::session::Session;

/// How to flatten the rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MapMethod {
    /// UMAP, cosine metric (seed 000).
    #[default]
    Umap,
    /// The top two principal components (linear, seedless).
    Pca,
}

/// Which corpus statistic ranks an index's features for `top`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RankBy {
    /// Share of the corpus's tokens where the feature fires.
    #[default]
    FiringRate,
    /// Its largest activation.
    Max,
}

/// `POST /v1/sae/map`. The features are `features` when given, else the `top` of `index`,
/// else those `groups` selects by seed 000's three conditions; `groups` and `index` also
/// add their statistics to every point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MapRequest {
    /// The SAE (default: the session's only one).
    #[serde(default)]
    pub sae_id: Option<String>,
    /// These features.
    #[serde(default)]
    pub features: Option<Vec<u32>>,
    /// A folder `saex groups build` wrote (seed 000's layout): colours by preferred group.
    /// CLI only: the HTTP API refuses it (a request names no folder on the server).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub groups: Option<PathBuf>,
    /// How `groups` selects (strategy and the three thresholds; the seed's by default).
    #[serde(default)]
    pub select: SelectOptions,
    /// A corpus index of this SAE (`saex index build`); over HTTP only `"server"`, the
    /// server's own `--index`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub index: Option<PathBuf>,
    /// With `index`: map its `top` features by `rank_by`.
    #[serde(default)]
    pub top: Option<usize>,
    /// What ranks them.
    #[serde(default)]
    pub rank_by: RankBy,
    /// UMAP or PCA.
    #[serde(default)]
    pub method: MapMethod,
    /// UMAP's seed (the seed's `random_state`).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// UMAP's neighbours per point, self included (capped at the points − 1, as the seed does).
    #[serde(default = "default_neighbors")]
    pub n_neighbors: usize,
    /// UMAP's `min_dist`.
    #[serde(default = "default_min_dist")]
    pub min_dist: f64,
}

fn default_seed() -> u64 {
    42
}
fn default_neighbors() -> usize {
    15
}
fn default_min_dist() -> f64 {
    0.1
}

impl Default for MapRequest {
    fn default() -> Self {
        MapRequest {
            sae_id: None,
            features: None,
            groups: None,
            select: SelectOptions::default(),
            index: None,
            top: None,
            rank_by: RankBy::default(),
            method: MapMethod::default(),
            seed: default_seed(),
            n_neighbors: default_neighbors(),
            min_dist: default_min_dist(),
        }
    }
}

/// One feature on the map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MapPoint {
    /// Feature id.
    pub feature_id: u32,
    /// Coordinates.
    pub x: f64,
    /// Coordinates.
    pub y: f64,
    /// Its label, when a catalog has one.
    pub label: Option<String>,
    /// With groups: the group where its mean activation is highest (`null`: it is silent in
    /// every group).
    pub group: Option<String>,
    /// With groups: that mean activation.
    pub activation: Option<f32>,
    /// With groups: it over the mean of the other groups (`null` with groups: infinite).
    pub ratio: Option<f64>,
    /// With groups: the share of the preferred group's responses where it fires.
    pub firing_rate: Option<f64>,
    /// With an index: the share of the corpus's tokens where it fires.
    pub corpus_firing_rate: Option<f64>,
    /// With an index: its largest activation in the corpus.
    pub corpus_max: Option<f32>,
}

/// The map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MapReport {
    /// The model.
    pub model_id: String,
    /// The SAE.
    pub sae_id: String,
    /// Its decoder rows' width.
    pub d_in: usize,
    /// UMAP or PCA.
    pub method: MapMethod,
    /// UMAP's parameters as used (`n_neighbors` after the cap).
    pub n_neighbors: usize,
    /// UMAP's `min_dist`.
    pub min_dist: f64,
    /// UMAP's seed.
    pub seed: u64,
    /// How the features were chosen, in words.
    pub selection: String,
    /// With groups: every group's name, in the folder's order (the legend's).
    pub groups: Vec<String>,
    /// With PCA: the share of the variance along each axis.
    pub explained: Option<[f64; 2]>,
    /// Trustworthiness of the map (scikit-learn's, cosine in the decoder space).
    pub trustworthiness: f64,
    /// Its `k`: 15, or fewer for a few points (it must stay below half of them).
    pub trustworthiness_k: usize,
    /// The features, in the order chosen.
    pub points: Vec<MapPoint>,
}

/// Per feature, what the groups folder says: group, activation, ratio, firing rate.
type GroupInfo = (String, f32, Option<f64>, f64);

/// What a map reads of its SAE: the decoder, its names and labels, and (only with an index)
/// the fingerprint of its files. A session gives it ([`map`]), or the SAE alone
/// ([`map_sae`]): the map itself needs no model.
struct Source<'a> {
    sae: &'a Sae,
    id: &'a str,
    model_id: &'a str,
    label: &'a dyn Fn(u32) -> Option<String>,
    fingerprint: &'a dyn Fn() -> Result<String>,
}

/// The map of the requested features of one of the session's SAEs.
pub fn map(session: &Session, req: &MapRequest) -> Result<MapReport> {
    let i = session.one(req.sae_id.as_deref())?;
    let s = &session.saes[i];
    let src = Source {
        sae: &s.sae,
        id: &s.id,
        model_id: &session.model_id,
        label: &|f| s.label(f),
        fingerprint: &|| Ok(session.sae_fingerprint(i)?.to_string()),
    };
    map_of(&src, req)
}

/// The map of the requested features of the SAE `sae_spec` (a directory or release path)
/// without a model (`saex map` without `--model`): its labels from `catalogs`, the registry
/// `store` and its own `labels.jsonl`, as a session would attach them; `model_id` is the
/// model its config names.
pub fn map_sae(sae_spec: &str, catalogs: &[PathBuf], store: &saex_labels::Store, req: &MapRequest) -> Result<MapReport> {
    let sae = Sae::load(sae_spec)?;
    let np = sae.config().metadata.neuronpedia_id.clone();
    let key = crate::labels::sae_key(&sae)?;
    let labels = crate::labels::for_sae(sae_spec, np.as_deref(), Some(&key), Some(sae.source()), catalogs, Some(store))?;
    let model_id = sae.config().metadata.model_name.clone().unwrap_or_default();
    let src = Source {
        sae: &sae,
        id: sae_spec,
        model_id: &model_id,
        label: &|f| labels.get(&f).cloned(),
        fingerprint: &|| Ok(saex_cache::fingerprint(sae.source(), None)?),
    };
    map_of(&src, req)
}

fn map_of(s: &Source, req: &MapRequest) -> Result<MapReport> {
    let d_sae = s.sae.d_sae();
    if req.top.is_some() && req.index.is_none() {
        return Err(Error::field("top", "needs an index to rank features from"));
    }
    let corpus = match &req.index {
        Some(dir) => Some(index_stats(s, dir)?),
        None => None,
    };
    let mut groups = Vec::new();
    let mut group_of: Vec<Option<GroupInfo>> = Vec::new();
    let mut selected = None;
    if let Some(dir) = &req.groups {
        let (_, v) = read_groups(dir)?;
        if v.d_sae != d_sae {
            return Err(Error::File {
                path: dir.display().to_string(),
                message: format!("its vectors have {} features, the SAE {d_sae}", v.d_sae),
            });
        }
        let st = strategy_index(&req.select.strategy)?;
        let sel = select_groups(&v, s.id, &req.select, &|_| (None, None))?;
        let means = v.means(st);
        let stats = saex_analysis::groups::stats(&means)?;
        group_of = (0..d_sae as u32)
            .map(|f| {
                // A feature silent in every group has no preferred one (the seed's argmax
                // would name the first group).
                if stats.top[f as usize] <= 0.0 {
                    return None;
                }
                let g = stats.preferred[f as usize];
                let ratio = Some(stats.ratio[f as usize]).filter(|r| r.is_finite());
                Some((v.names[g].clone(), means[g][f as usize], ratio, v.firing_rate(st, g, f)))
            })
            .collect();
        selected = Some((sel.selected.clone(), format!("seed 000's conditions on {} ({} strategy)", dir.display(), req.select.strategy)));
        groups = v.names.clone();
    }
    let (features, selection) = match (&req.features, req.top, &corpus, selected) {
        (Some(f), _, _, _) => (f.clone(), "features named".to_string()),
        (None, Some(n), Some(stats), _) => {
            (top_of(stats, n, req.rank_by), format!("the {n} features of the index with the highest {}", rank_name(req.rank_by)))
        }
        (None, None, _, Some(sel)) => sel,
        _ => return Err(Error::field("features", "name the features: give features, a groups folder, or an index with top")),
    };
    check_features(&features, d_sae)?;
    let n = features.len();
    let rows = decoder_rows(s.sae.w_dec(), &features)?;
    let d = s.sae.d_in();
    let n_neighbors = req.n_neighbors.min(n - 1);
    let (xy, explained) = match req.method {
        MapMethod::Umap => {
            let p = UmapParams { n_neighbors, min_dist: req.min_dist, seed: req.seed };
            (umap(&rows, n, d, &p)?.embedding, None)
        }
        MapMethod::Pca => {
            let p = pca(&rows, n, d)?;
            (p.scores, Some(p.explained))
        }
    };
    let k = 15.min((n - 1) / 2);
    let trust = trustworthiness(&rows, d, &xy, k)?;
    let points = features
        .iter()
        .zip(&xy)
        .map(|(&f, q)| {
            let g = group_of.get(f as usize).cloned().flatten();
            let c = corpus.as_ref().and_then(|st| st[f as usize].as_ref());
            MapPoint {
                feature_id: f,
                x: q[0],
                y: q[1],
                label: (s.label)(f),
                group: g.as_ref().map(|g| g.0.clone()),
                activation: g.as_ref().map(|g| g.1),
                ratio: g.as_ref().and_then(|g| g.2),
                firing_rate: g.as_ref().map(|g| g.3),
                corpus_firing_rate: c.map(|c| c.firing_rate),
                corpus_max: c.map(|c| c.max),
            }
        })
        .collect();
    Ok(MapReport {
        model_id: s.model_id.to_string(),
        sae_id: s.id.to_string(),
        d_in: d,
        method: req.method,
        n_neighbors,
        min_dist: req.min_dist,
        seed: req.seed,
        selection,
        groups,
        explained,
        trustworthiness: trust,
        trustworthiness_k: k,
        points,
    })
}

fn rank_name(by: RankBy) -> &'static str {
    match by {
        RankBy::FiringRate => "firing rate",
        RankBy::Max => "maximum activation",
    }
}

/// In range, no repeats (a repeated row would sit on itself and skew its neighbours), at
/// least 3 (UMAP needs 2 neighbours besides the point).
fn check_features(features: &[u32], d_sae: usize) -> Result<()> {
    if let Some(&f) = features.iter().find(|&&f| f as usize >= d_sae) {
        return Err(Error::field("features", format!("feature {f} is out of range (d_sae {d_sae})")));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(&f) = features.iter().find(|&&f| !seen.insert(f)) {
        return Err(Error::field("features", format!("feature {f} is named twice")));
    }
    if features.len() < 3 {
        return Err(Error::field("features", format!("a map needs at least 3 features, got {}", features.len())));
    }
    Ok(())
}

/// `W_dec[features]` as f32, row-major `[n, d_in]`.
fn decoder_rows(w_dec: &Tensor, features: &[u32]) -> Result<Vec<f32>> {
    let ids = Tensor::new(features, w_dec.device())?;
    Ok(w_dec.index_select(&ids, 0)?.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?)
}

/// The index's statistics of every feature of the SAE, refusing an index of another SAE.
fn index_stats(src: &Source, dir: &std::path::Path) -> Result<Vec<Option<Stats>>> {
    let index = Index::open(dir).map_err(from_index)?;
    let fp = (src.fingerprint)()?;
    let s = index.manifest.saes.iter().find(|r| r.sha256 == fp).ok_or_else(|| Error::File {
        path: dir.display().to_string(),
        message: format!(
            "this index holds no SAE with the files of {} (it has: {})",
            src.id,
            index.manifest.saes.iter().map(|r| r.id.as_str()).collect::<Vec<_>>().join(", ")
        ),
    })?;
    let all = index.all_stats(Some(&s.id)).map_err(from_index)?;
    let mut out = vec![None; src.sae.d_sae()];
    for (f, st) in all {
        if let Some(slot) = out.get_mut(f as usize) {
            *slot = Some(st);
        }
    }
    Ok(out)
}

/// The `n` features ranked highest by `by` (ties by id; features the index has no record of
/// last), so `top` = `d_sae` maps them all.
fn top_of(stats: &[Option<Stats>], n: usize, by: RankBy) -> Vec<u32> {
    let key = |f: u32| {
        stats[f as usize].as_ref().map_or(f64::NEG_INFINITY, |s| match by {
            RankBy::FiringRate => s.firing_rate,
            RankBy::Max => f64::from(s.max),
        })
    };
    let mut ids: Vec<u32> = (0..stats.len() as u32).collect();
    ids.sort_by(|&a, &b| key(b).total_cmp(&key(a)).then(a.cmp(&b)));
    ids.truncate(n);
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(rate: f64, max: f32) -> Option<Stats> {
        let count = u64::from(rate > 0.0);
        Some(Stats { n_tokens: 10, firing_count: count, firing_rate: rate, mean: 0.0, mean_nonzero: 0.0, max, p95: 0.0 })
    }

    #[test]
    fn top_ranks_ties_by_id() {
        // Rates 0.2, 0.5, 0 (dead), 0.5, 0.1, none: by rate 1 and 3 tie (id order), then 0.
        let stats = [st(0.2, 9.0), st(0.5, 1.0), st(0.0, 0.0), st(0.5, 2.0), st(0.1, 3.0), None];
        assert_eq!(top_of(&stats, 3, RankBy::FiringRate), [1, 3, 0]);
        assert_eq!(top_of(&stats, 10, RankBy::Max), [0, 4, 3, 1, 2, 5]);
    }

    #[test]
    fn features_are_checked_in_one_line() {
        assert!(check_features(&[0, 1, 2], 4).is_ok());
        assert_eq!(check_features(&[0, 1, 9], 4).unwrap_err().to_string(), "`features`: feature 9 is out of range (d_sae 4)");
        assert_eq!(check_features(&[0, 1, 1], 4).unwrap_err().to_string(), "`features`: feature 1 is named twice");
        assert_eq!(check_features(&[0, 1], 4).unwrap_err().to_string(), "`features`: a map needs at least 3 features, got 2");
    }

    #[test]
    fn requests_default_to_the_seeds_parameters() {
        let r: MapRequest = serde_json::from_str(r#"{"features": [1, 2, 3]}"#).unwrap();
        assert_eq!((r.method, r.seed, r.n_neighbors, r.min_dist), (MapMethod::Umap, 42, 15, 0.1));
        let r: MapRequest = serde_json::from_str(r#"{"features": [1, 2, 3], "method": "pca", "rank_by": "max"}"#).unwrap();
        assert_eq!((r.method, r.rank_by), (MapMethod::Pca, RankBy::Max));
    }
}
