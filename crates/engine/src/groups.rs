//! `groups build` / `groups select` (seed 000): one feature vector per response — its tokens
//! aggregated by a strategy (mean, max, last, sum) — then per group the mean over its
//! responses; the three conditions of [`saex_analysis::groups`] pick the features that tell
//! the groups apart. Responses are given texts (every token but bos is aggregated) or, with
//! `generate`, the model's own answers to `{system?, prompt}` through its chat template
//! (only the response's tokens are aggregated, never the prompt's).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use saex_analysis::groups::{search, select, GroupFeatures, Selected, Selection, Thresholds};
use saex_sae::SparseActs;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::groups_store::{self, check_name, STRATEGIES};
use crate::session::Session;

/// One response: a group and its text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GroupItem {
    /// The group (a role, a category).
    pub group: String,
    /// The response's text.
    pub text: String,
}

/// A line that was not used, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Skipped {
    /// 1-based line of the data file (or item index + 1).
    pub line: usize,
    /// Why.
    pub reason: String,
}

/// The per-response vectors of every group, for every strategy (dense: the seed's format).
#[derive(Debug, Clone)]
pub struct GroupVectors {
    /// Group names, in order of first appearance.
    pub names: Vec<String>,
    /// Features.
    pub d_sae: usize,
    /// Per group, per strategy (in [`STRATEGIES`] order), the rows of its responses, flat.
    pub rows: Vec<[Vec<f32>; 4]>,
    /// Lines not used.
    pub skipped: Vec<Skipped>,
    /// Responses cut to the model's context.
    pub truncated: usize,
    /// The per-group means as stored (`per_role.npz`), per strategy, when read from a folder:
    /// the seed selects on these, so they are used as they are rather than recomputed.
    pub stored_means: [Option<Vec<Vec<f32>>>; 4],
    /// Strategies a folder does not hold (built with `--strategy`, or the seed's own
    /// pipeline, which writes one).
    pub missing: [bool; 4],
}

impl GroupVectors {
    fn n_responses(&self, g: usize) -> usize {
        self.rows[g][0].len() / self.d_sae.max(1)
    }

    /// Per group, the mean of its response vectors under strategy `s` (the stored one when
    /// read from a folder).
    pub fn means(&self, s: usize) -> Vec<Vec<f32>> {
        if let Some(m) = &self.stored_means[s] {
            return m.clone();
        }
        (0..self.names.len())
            .map(|g| {
                let n = self.n_responses(g).max(1);
                let mut sum = vec![0f64; self.d_sae];
                for row in self.rows[g][s].chunks(self.d_sae) {
                    for (a, &b) in sum.iter_mut().zip(row) {
                        *a += f64::from(b);
                    }
                }
                sum.into_iter().map(|x| (x / n as f64) as f32).collect()
            })
            .collect()
    }

    /// The share of group `g`'s responses where feature `f` is > 0 under strategy `s`.
    pub fn firing_rate(&self, s: usize, g: usize, f: u32) -> f64 {
        let n = self.n_responses(g);
        if n == 0 {
            return 0.0;
        }
        let fires = self.rows[g][s].chunks(self.d_sae).filter(|r| r[f as usize] > 0.0).count();
        fires as f64 / n as f64
    }
}

/// The four aggregates of tokens `range` of `acts` (mean with zeros, max, last, sum).
fn aggregate(acts: &SparseActs, range: std::ops::Range<usize>, d_sae: usize) -> [Vec<f32>; 4] {
    let n = range.len().max(1) as f32;
    let (mut sum, mut max) = (vec![0f32; d_sae], vec![0f32; d_sae]);
    let mut last = vec![0f32; d_sae];
    for p in range.clone() {
        if let Some((fs, vs)) = acts.token(p) {
            for (&f, &v) in fs.iter().zip(vs) {
                sum[f as usize] += v;
                max[f as usize] = max[f as usize].max(v);
                if p + 1 == range.end {
                    last[f as usize] = v;
                }
            }
        }
    }
    let mean = sum.iter().map(|&x| x / n).collect();
    [mean, max, last, sum]
}

/// One response ready to encode: its group, token ids and the first position aggregated
/// (after bos for a given text; after the chat prompt for a generated answer).
pub(crate) struct Sequence {
    pub group: String,
    pub ids: Vec<u32>,
    pub from: usize,
}

/// Encode `items` (responses) with SAE `sae` and aggregate each over its tokens but bos.
pub fn group_vectors(session: &Session, sae: usize, items: &[(usize, GroupItem)], progress: &mut dyn FnMut(usize)) -> Result<GroupVectors> {
    let n_ctx = session.model.dims().n_ctx;
    let (mut seqs, mut skipped, mut truncated) = (Vec::new(), Vec::new(), 0);
    for (line, item) in items {
        if let Err(why) = check_name(&item.group) {
            return Err(Error::field("group", format!("line {line}: {why}")));
        }
        let mut ids = session.tokenize_ids(&item.text, session.model.add_bos())?;
        let from = session.bos_skip(&ids);
        if ids.len() <= from {
            skipped.push(Skipped { line: *line, reason: "empty text".into() });
            continue;
        }
        if ids.len() > n_ctx {
            ids.truncate(n_ctx);
            truncated += 1;
        }
        seqs.push(Sequence { group: item.group.clone(), ids, from });
    }
    let mut out = sequence_vectors(session, sae, &seqs, progress)?;
    out.skipped = skipped;
    out.truncated = truncated;
    Ok(out)
}

/// Encode `seqs` with SAE `sae`, each aggregated over its positions `from..`.
pub(crate) fn sequence_vectors(session: &Session, sae: usize, seqs: &[Sequence], progress: &mut dyn FnMut(usize)) -> Result<GroupVectors> {
    let d_sae = session.saes[sae].sae.d_sae();
    let mut out = GroupVectors {
        names: Vec::new(),
        d_sae,
        rows: Vec::new(),
        skipped: Vec::new(),
        truncated: 0,
        stored_means: Default::default(),
        missing: [false; 4],
    };
    for (done, chunk) in seqs.chunks(8).enumerate() {
        let ids: Vec<Vec<u32>> = chunk.iter().map(|c| c.ids.clone()).collect();
        for (seq, enc) in chunk.iter().zip(session.encode_batch(&[sae], &ids)?) {
            let vecs = aggregate(&enc.codes[0], seq.from.max(enc.first_real())..seq.ids.len(), d_sae);
            let g = match out.names.iter().position(|n| *n == seq.group) {
                Some(g) => g,
                None => {
                    out.names.push(seq.group.clone());
                    out.rows.push(Default::default());
                    out.names.len() - 1
                }
            };
            for (dst, src) in out.rows[g].iter_mut().zip(vecs) {
                dst.extend(src);
            }
        }
        progress((done + 1) * 8);
    }
    Ok(out)
}

/// How to select.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SelectOptions {
    /// `mean`, `max`, `last` or `sum`.
    pub strategy: String,
    /// The three thresholds.
    pub thresholds: Thresholds,
    /// Search the thresholds for this many features per group, `[lo, hi]`.
    pub target_per_group: Option<[usize; 2]>,
}

impl Default for SelectOptions {
    fn default() -> Self {
        SelectOptions { strategy: "mean".into(), thresholds: Thresholds::default(), target_per_group: None }
    }
}

/// A selected feature with its label and link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GroupFeature {
    /// The statistics.
    #[serde(flatten)]
    pub selected: Selected,
    /// Its label, when a catalog has one.
    pub label: Option<String>,
    /// Its Neuronpedia page, when the SAE has an id.
    pub neuronpedia_url: Option<String>,
}

/// One group and its features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GroupReport {
    /// The group.
    pub group: String,
    /// Responses in it.
    pub responses: usize,
    /// Its features, strongest first.
    pub features: Vec<GroupFeature>,
}

/// What `groups select` (and `POST /v1/analysis/groups`) returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GroupsReport {
    /// The SAE.
    pub sae_id: String,
    /// The strategy.
    pub strategy: String,
    /// Counts of each condition and the thresholds used (searched or given).
    pub thresholds: Thresholds,
    /// Features passing C1.
    pub c1: usize,
    /// Features passing C3.
    pub c3: usize,
    /// C1 and C3 and a positive mean.
    pub candidates: usize,
    /// Selected, ascending.
    pub selected: Vec<u32>,
    /// Every group (those without a selected feature too), in order of first appearance
    /// among the selected features, then the rest.
    pub groups: Vec<GroupReport>,
    /// Lines not used, and why.
    pub skipped: Vec<Skipped>,
    /// Responses cut to the model's context.
    pub truncated: usize,
    /// Groups with a single response (their firing rate is 0 or 1).
    pub single_response_groups: Vec<String>,
}

pub(crate) fn strategy_index(s: &str) -> Result<usize> {
    STRATEGIES
        .iter()
        .position(|x| *x == s)
        .ok_or_else(|| Error::field("strategy", format!("{s:?}: expected one of {}", STRATEGIES.join(", "))))
}

/// Run the selection on built vectors.
pub fn select_groups(
    v: &GroupVectors,
    sae_id: &str,
    opts: &SelectOptions,
    label: &dyn Fn(u32) -> (Option<String>, Option<String>),
) -> Result<GroupsReport> {
    let s = strategy_index(&opts.strategy)?;
    if v.missing[s] {
        let have: Vec<&str> = STRATEGIES.iter().zip(v.missing).filter(|(_, m)| !m).map(|(n, _)| *n).collect();
        return Err(Error::field(
            "strategy",
            format!("this folder holds no `{}` aggregation (it has: {})", opts.strategy, have.join(", ")),
        ));
    }
    if v.names.len() < 2 {
        return Err(Error::field("group", format!("group contrasts need at least 2 groups, got {}", v.names.len())));
    }
    let means = v.means(s);
    let rate = |g: usize, f: u32| v.firing_rate(s, g, f);
    let sel: Selection = match opts.target_per_group {
        Some([lo, hi]) => search(&means, &v.names, opts.thresholds, lo, hi, &rate)?,
        None => select(&means, &v.names, opts.thresholds, &rate)?,
    };
    let mut groups: Vec<GroupReport> = sel
        .groups
        .iter()
        .map(|GroupFeatures { group, features }| GroupReport {
            group: group.clone(),
            responses: v.names.iter().position(|n| n == group).map_or(0, |g| v.n_responses(g)),
            features: features
                .iter()
                .map(|x| {
                    let (label, url) = label(x.feature_id);
                    GroupFeature { selected: x.clone(), label, neuronpedia_url: url }
                })
                .collect(),
        })
        .collect();
    for (g, n) in v.names.iter().enumerate() {
        if !groups.iter().any(|x| x.group == *n) {
            groups.push(GroupReport { group: n.clone(), responses: v.n_responses(g), features: Vec::new() });
        }
    }
    Ok(GroupsReport {
        sae_id: sae_id.to_string(),
        strategy: opts.strategy.clone(),
        thresholds: sel.thresholds,
        c1: sel.c1,
        c3: sel.c3,
        candidates: sel.candidates,
        selected: sel.selected,
        groups,
        skipped: v.skipped.clone(),
        truncated: v.truncated,
        single_response_groups: (0..v.names.len()).filter(|&g| v.n_responses(g) == 1).map(|g| v.names[g].clone()).collect(),
    })
}

/// A `POST /v1/analysis/groups` request: responses inline, nothing written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupsRequest {
    /// The SAE; may be omitted when one is loaded.
    #[serde(default)]
    pub sae_id: Option<String>,
    /// The responses.
    pub items: Vec<GroupItem>,
    /// How to select.
    #[serde(default)]
    pub select: SelectOptions,
}

/// Encode the request's responses and select (the HTTP face of `groups build` + `select`).
pub fn groups(session: &Session, req: &GroupsRequest) -> Result<GroupsReport> {
    let i = session.one(req.sae_id.as_deref())?;
    let items: Vec<(usize, GroupItem)> = req.items.iter().cloned().enumerate().map(|(k, it)| (k + 1, it)).collect();
    let v = group_vectors(session, i, &items, &mut |_| {})?;
    let s = &session.saes[i];
    select_groups(&v, &s.id, &req.select, &|f| (s.label(f), s.neuronpedia_url(f)))
}

/// What a built groups folder says about itself (`groups.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GroupsManifest {
    /// The model.
    pub model: String,
    /// The SAE (its id; labels are read from it when it is a directory here).
    pub sae_id: String,
    /// Its Neuronpedia id.
    pub neuronpedia_id: Option<String>,
    /// The data file.
    pub data: String,
    /// Responses per group.
    pub responses: BTreeMap<String, usize>,
    /// Group names in the order of `per_role.npz`.
    pub groups: Vec<String>,
    /// Lines not used.
    pub skipped: Vec<Skipped>,
    /// Responses cut to the model's context.
    pub truncated: usize,
    /// The strategies written.
    #[serde(default)]
    pub strategies: Vec<String>,
}

/// Responses with their 1-based line numbers.
pub type NumberedItems = Vec<(usize, GroupItem)>;

/// Read a data file: one `{"<group_field>": …, "text": …}` per line. Lines without the group
/// field are skipped and reported.
pub fn read_items(path: &Path, group_field: &str) -> Result<(NumberedItems, Vec<Skipped>)> {
    let bytes = std::fs::read(path).map_err(|e| Error::File { path: path.display().to_string(), message: e.to_string() })?;
    let (mut items, mut skipped) = (Vec::new(), Vec::new());
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = i + 1;
        let Ok(text) = std::str::from_utf8(raw) else {
            skipped.push(Skipped { line, reason: "not valid UTF-8".into() });
            continue;
        };
        if text.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| Error::File { path: path.display().to_string(), message: format!("line {line}: not JSON: {e}") })?;
        let group = match v.get(group_field) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(Error::File {
                    path: path.display().to_string(),
                    message: format!("line {line}: `{group_field}` must be a string, got {other}"),
                })
            }
            None => {
                skipped.push(Skipped { line, reason: format!("no `{group_field}` field") });
                continue;
            }
        };
        let Some(t) = v.get("text").and_then(|t| t.as_str()) else {
            skipped.push(Skipped { line, reason: "no string `text` field".into() });
            continue;
        };
        items.push((line, GroupItem { group, text: t.to_string() }));
    }
    Ok((items, skipped))
}

/// A `groups build` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GroupsBuildRequest {
    /// The data file (JSONL).
    #[schema(value_type = String)]
    pub data: PathBuf,
    /// The field naming each line's group.
    pub group_field: String,
    /// The output folder.
    #[schema(value_type = String)]
    pub out: PathBuf,
    /// The strategies to write (default: all four).
    #[serde(default)]
    pub strategies: Vec<String>,
    /// Generate the responses: the data lines are `{group, system?, prompt}` and the model
    /// answers each through its chat template; only the answer's tokens are aggregated.
    #[serde(default)]
    pub generate: Option<crate::groups_generate::GenerateSpec>,
}

/// Encode every response of the data file and write seed 000's layout into `out`.
pub fn groups_build(session: &Session, req: &GroupsBuildRequest, progress: &mut dyn FnMut(usize, usize)) -> Result<GroupsManifest> {
    let i = session.one(None)?;
    for s in &req.strategies {
        strategy_index(s)?;
    }
    let mut v = match &req.generate {
        Some(spec) => crate::groups_generate::generated_vectors(session, i, req, spec, progress)?,
        None => {
            let (items, skipped) = read_items(&req.data, &req.group_field)?;
            if items.is_empty() {
                return Err(Error::File {
                    path: req.data.display().to_string(),
                    message: format!("no line has both `{}` and `text`", req.group_field),
                });
            }
            let total = items.len();
            let mut v = group_vectors(session, i, &items, &mut |n| progress(n.min(total), total))?;
            v.skipped.splice(0..0, skipped);
            v
        }
    };
    for (k, s) in STRATEGIES.iter().enumerate() {
        v.missing[k] = !req.strategies.is_empty() && !req.strategies.iter().any(|x| x == s);
    }
    write_groups(session, i, &v, &req.data, &req.out)
}

/// Write the vectors `v` of SAE `sae` in seed 000's layout.
pub fn write_groups(session: &Session, sae: usize, v: &GroupVectors, data: &Path, out: &Path) -> Result<GroupsManifest> {
    let s = &session.saes[sae];
    for (k, strategy) in STRATEGIES.iter().enumerate() {
        if v.missing[k] {
            continue;
        }
        let dir = out.join("aggregated").join(strategy);
        std::fs::create_dir_all(&dir).map_err(|e| Error::File { path: dir.display().to_string(), message: e.to_string() })?;
        groups_store::write_per_role(&dir.join("per_role.npz"), &v.names, v.d_sae, &v.means(k))?;
    }
    let fdir = out.join("features");
    std::fs::create_dir_all(&fdir).map_err(|e| Error::File { path: fdir.display().to_string(), message: e.to_string() })?;
    for (g, name) in v.names.iter().enumerate() {
        let per: Vec<(&str, Vec<f32>)> =
            STRATEGIES.iter().zip(&v.rows[g]).zip(v.missing).filter(|(_, m)| !m).map(|((s, rows), _)| (*s, rows.clone())).collect();
        groups_store::write_responses(&fdir.join(format!("{name}.npz")), v.d_sae, &per)?;
    }
    let m = GroupsManifest {
        model: session.model_id.clone(),
        sae_id: s.id.clone(),
        neuronpedia_id: s.neuronpedia_id().map(str::to_string),
        data: data.display().to_string(),
        responses: v.names.iter().enumerate().map(|(g, n)| (n.clone(), v.n_responses(g))).collect(),
        groups: v.names.clone(),
        skipped: v.skipped.clone(),
        truncated: v.truncated,
        strategies: STRATEGIES.iter().zip(v.missing).filter(|(_, m)| !m).map(|(s, _)| s.to_string()).collect(),
    };
    let text = serde_json::to_string_pretty(&m).map_err(|e| Error::Invalid(e.to_string()))? + "\n";
    crate::atomic::write(&out.join("groups.json"), text.as_bytes())?;
    Ok(m)
}

/// Read a built folder's vectors back (every strategy), for `groups select`.
pub fn read_groups(dir: &Path) -> Result<(GroupsManifest, GroupVectors)> {
    let mpath = dir.join("groups.json");
    let per_role_of = |s: &str| dir.join("aggregated").join(s).join("per_role.npz");
    let first = STRATEGIES.iter().map(|s| per_role_of(s)).find(|p| p.is_file()).ok_or_else(|| Error::File {
        path: dir.display().to_string(),
        message: "no aggregated/{mean,max,last,sum}/per_role.npz here (a folder `saex groups build` wrote, or seed 000's layout)".into(),
    })?;
    let names = groups_store::read_names(&first)?;
    let manifest: Option<GroupsManifest> = std::fs::read(&mpath).ok().and_then(|b| serde_json::from_slice(&b).ok());
    let (_, d_sae, _) = groups_store::read_matrix(&first, "features")?;
    let mut rows = Vec::new();
    let mut missing = [false; 4];
    for n in &names {
        let p = dir.join("features").join(format!("{n}.npz"));
        if !p.is_file() {
            return Err(Error::File {
                path: p.display().to_string(),
                message: format!("missing: group `{n}` of per_role.npz has no responses file"),
            });
        }
        let mut per: [Vec<f32>; 4] = Default::default();
        for (k, s) in STRATEGIES.iter().enumerate() {
            let (_, cols, data) = match groups_store::read_matrix(&p, &format!("{s}_features")) {
                Ok(m) => m,
                // Folders written with --strategy, or by the seed's own pipeline, hold fewer.
                Err(_) => {
                    missing[k] = true;
                    continue;
                }
            };
            if cols != d_sae {
                return Err(Error::File {
                    path: p.display().to_string(),
                    message: format!("{s}_features has {cols} columns, per_role.npz {d_sae}"),
                });
            }
            per[k] = data;
        }
        rows.push(per);
    }
    let mut stored_means: [Option<Vec<Vec<f32>>>; 4] = Default::default();
    for (k, s) in STRATEGIES.iter().enumerate() {
        let p = per_role_of(s);
        if !p.is_file() {
            missing[k] = true;
            continue;
        }
        let (r, c, data) = groups_store::read_matrix(&p, "features")?;
        if r != names.len() || c != d_sae {
            return Err(Error::File {
                path: p.display().to_string(),
                message: format!("features is [{r}, {c}], expected [{}, {d_sae}]", names.len()),
            });
        }
        stored_means[k] = Some(data.chunks(d_sae).map(<[f32]>::to_vec).collect());
    }
    let manifest = manifest.unwrap_or(GroupsManifest {
        model: String::new(),
        sae_id: String::new(),
        neuronpedia_id: None,
        data: String::new(),
        responses: BTreeMap::new(),
        groups: names.clone(),
        skipped: Vec::new(),
        truncated: 0,
        strategies: Vec::new(),
    });
    Ok((
        manifest.clone(),
        GroupVectors { names, d_sae, rows, skipped: manifest.skipped, truncated: manifest.truncated, stored_means, missing },
    ))
}
