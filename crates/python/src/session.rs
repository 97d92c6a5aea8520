//! `saex.Session`: a model and its SAEs, loaded once, and one method per engine verb.
//!
//! Every method only translates: Python arguments → the engine's request → the engine
//! function (without the GIL, panics caught, Ctrl-C setting its cancel flag: [`detached`])
//! → the report as a result (the dict or list of its JSON, see `saex._results`) or numpy
//! arrays. A new verb is one method calling [`call`].

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use numpy::IntoPyArray;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

use saex_engine::{SessionOptions, TopRequest};
use saex_hooks::Hook;

use crate::arrays;
use crate::convert::{report, request, result};
use crate::error::{invalid, saex_error};
use crate::labels;
use crate::run::detached;

/// Size cap of the activation cache when a `cache_dir` is given (the CLI's default).
const CACHE_MAX_BYTES: u64 = 1024 << 20;

fn parse_hooks(hooks: &[String]) -> PyResult<Vec<Hook>> {
    hooks.iter().map(|h| h.trim().parse::<Hook>().map_err(saex_error)).collect()
}

/// A model and its SAEs (`saex_engine::Session`).
#[pyclass(module = "saex", name = "Session", frozen)]
pub struct Session {
    inner: saex_engine::Session,
}

/// The generic verb: keyword arguments (plus `given`) → request `Q` → `verb` (with the
/// cancel flag Ctrl-C sets) → the result named `name` (a dict or list, see `saex._results`).
fn call<'py, Q, R>(
    slf: &Bound<'py, Session>,
    name: &str,
    fields: Option<&Bound<'py, PyDict>>,
    given: Value,
    verb: impl Fn(&saex_engine::Session, &Q, &AtomicBool) -> saex_engine::Result<R> + Sync,
) -> PyResult<Bound<'py, PyAny>>
where
    Q: DeserializeOwned + Sync,
    R: Serialize + Send,
{
    Ok(call_timed(slf, name, fields, given, verb)?.0)
}

/// [`call`], also returning the seconds `verb` itself took (timed on the worker thread):
/// the rest of a call's wall time is the binding's.
fn call_timed<'py, Q, R>(
    slf: &Bound<'py, Session>,
    name: &str,
    fields: Option<&Bound<'py, PyDict>>,
    given: Value,
    verb: impl Fn(&saex_engine::Session, &Q, &AtomicBool) -> saex_engine::Result<R> + Sync,
) -> PyResult<(Bound<'py, PyAny>, f64)>
where
    Q: DeserializeOwned + Sync,
    R: Serialize + Send,
{
    let py = slf.py();
    let req: Q = request(py, fields, given)?;
    let session = &slf.get().inner;
    let (out, seconds) = detached(py, |cancel| {
        let start = Instant::now();
        let out = verb(session, &req, cancel)?;
        Ok((out, start.elapsed().as_secs_f64()))
    })?;
    Ok((result(py, name, &out, Some(slf.as_any()))?, seconds))
}

impl Session {
    fn check_sae(&self, sae: usize) -> PyResult<()> {
        if sae >= self.inner.saes.len() {
            return Err(invalid(format!("sae {sae} is out of range ({} loaded)", self.inner.saes.len())));
        }
        Ok(())
    }

    /// The registry target of SAE `sae_id` (`None`: the only one).
    fn label_target(&self, sae_id: Option<&str>) -> PyResult<saex_engine::LabelTarget> {
        let i = self.inner.one(sae_id).map_err(saex_error)?;
        Ok(self.inner.saes[i].label_target())
    }

    fn add_bos(&self, bos: bool) -> bool {
        bos && self.inner.model.add_bos()
    }
}

#[pymethods]
impl Session {
    /// Load the SAEs, then the model with what they need. See `saex/_saex.pyi`.
    #[new]
    #[pyo3(signature = (model, saes=Vec::new(), logits=true, hooks=Vec::new(), sae_hooks=Vec::new(), labels=Vec::new(), cache_dir=None, dtype=None, registry=None))]
    #[allow(clippy::too_many_arguments)] // Python keyword arguments, each optional
    fn new(
        py: Python<'_>,
        model: PathBuf,
        saes: Vec<Bound<'_, PyAny>>,
        logits: bool,
        hooks: Vec<String>,
        sae_hooks: Vec<Option<String>>,
        labels: Vec<PathBuf>,
        cache_dir: Option<PathBuf>,
        dtype: Option<String>,
        registry: Option<PathBuf>,
    ) -> PyResult<Session> {
        let hooks = parse_hooks(&hooks)?;
        // An SAE is a path or release (str, os.PathLike) or a saex.Sae, whose hook, when it
        // was given one, is its entry of `sae_hooks` unless that names another.
        let mut specs = Vec::with_capacity(saes.len());
        let mut sae_hooks: Vec<Option<String>> = sae_hooks;
        for (i, s) in saes.iter().enumerate() {
            match s.cast::<labels::Sae>() {
                Ok(sae) => {
                    let sae = sae.get();
                    specs.push(sae.spec().to_string());
                    if let Some(h) = sae.hook() {
                        if sae_hooks.len() <= i {
                            sae_hooks.resize(i + 1, None);
                        }
                        sae_hooks[i].get_or_insert_with(|| h.to_string());
                    }
                }
                Err(_) => specs.push(labels::spec_of(s)?),
            }
        }
        let sae_hooks =
            sae_hooks.iter().map(|h| h.as_deref().map(str::parse::<Hook>).transpose().map_err(saex_error)).collect::<PyResult<Vec<_>>>()?;
        let dtype = dtype.as_deref().map(str::parse::<saex_model::Dtype>).transpose().map_err(saex_error)?.unwrap_or_default();
        let cache = cache_dir.map(|d| saex_cache::Cache::open(d, CACHE_MAX_BYTES)).transpose().map_err(saex_error)?;
        let opts = SessionOptions { labels, registry, cache, logits, sae_hooks, hooks, dtype };
        let model = model.to_string_lossy().into_owned();
        let inner = detached(py, |_| saex_engine::Session::open(&model, &specs, opts))?;
        let warn = py.import("warnings")?;
        for w in &inner.warnings {
            warn.call_method1("warn", (w,))?;
        }
        Ok(Session { inner })
    }

    /// How the model was named when loaded.
    #[getter]
    fn model_id(&self) -> &str {
        &self.inner.model_id
    }

    /// The SAEs in load order: `[{"id", "hook", "d_sae"}]`.
    #[getter]
    fn saes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let saes: Vec<Value> =
            self.inner.saes.iter().map(|s| json!({"id": s.id, "hook": s.hook.to_string(), "d_sae": s.sae.d_sae()})).collect();
        report(py, &saes)
    }

    /// Non-fatal findings while opening (also issued as Python warnings).
    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.inner.warnings.clone()
    }

    /// `saex tokenize --json`.
    #[pyo3(signature = (text, bos=true))]
    fn tokenize<'py>(&self, py: Python<'py>, text: &str, bos: bool) -> PyResult<Bound<'py, PyAny>> {
        let tok = &self.inner.model.tokenizer;
        let bos = bos && tok.add_bos_default();
        let out = detached(py, |_| saex_engine::tokenize(tok, text, bos))?;
        result(py, "tokenize", &out, None)
    }

    /// `saex top-features --json` (`TopRequest` fields as keywords).
    #[pyo3(signature = (text, **fields))]
    fn top_features<'py>(slf: &Bound<'py, Self>, text: &str, fields: Option<&Bound<'py, PyDict>>) -> PyResult<Bound<'py, PyAny>> {
        call(slf, "top_features", fields, json!({ "text": text }), |s, q, _| saex_engine::top(s, q))
    }

    /// `saex discover --json` (`DiscoverRequest` fields as keywords).
    #[pyo3(signature = (**fields))]
    fn discover<'py>(slf: &Bound<'py, Self>, fields: Option<&Bound<'py, PyDict>>) -> PyResult<Bound<'py, PyAny>> {
        call(slf, "discover", fields, Value::Null, |s, q, cancel| Ok(saex_engine::discover_with_capture(s, q, Some(cancel))?.0))
    }

    /// `saex steer --json` (`SteerRequest` fields as keywords).
    #[pyo3(signature = (**fields))]
    fn steer<'py>(slf: &Bound<'py, Self>, fields: Option<&Bound<'py, PyDict>>) -> PyResult<Bound<'py, PyAny>> {
        call(slf, "steer", fields, Value::Null, |s, q, cancel| saex_engine::steer(s, q, Some(cancel)))
    }

    /// `saex generate` (`GenerateRequest`; defaults: greedy, 32 tokens).
    #[pyo3(signature = (prompt, max_new_tokens=32, temperature=0.0, top_p=1.0, seed=0, bos=true))]
    #[allow(clippy::too_many_arguments)] // Python keyword arguments, each optional
    fn generate<'py>(
        slf: &Bound<'py, Self>,
        prompt: &str,
        max_new_tokens: usize,
        temperature: f64,
        top_p: f64,
        seed: u64,
        bos: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let given = json!({ "prompt": prompt, "max_new_tokens": max_new_tokens, "temperature": temperature, "top_p": top_p, "seed": seed, "bos": bos });
        call(slf, "generate", None, given, |s, q, cancel| saex_engine::generate(s, q, Some(cancel)))
    }

    /// `saex logit-stats --json` (`LogitStatsRequest` fields as keywords).
    #[pyo3(signature = (**fields))]
    fn logit_stats<'py>(slf: &Bound<'py, Self>, fields: Option<&Bound<'py, PyDict>>) -> PyResult<Bound<'py, PyAny>> {
        call(slf, "logit_stats", fields, Value::Null, |s, q, _| saex_engine::logit_stats(s, q))
    }

    /// `saex neighbors --json` (`NeighborsRequest` fields as keywords).
    #[pyo3(signature = (feature, k=10, by="decoder", **fields))]
    fn neighbors<'py>(
        slf: &Bound<'py, Self>,
        feature: u32,
        k: usize,
        by: &str,
        fields: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        call(slf, "neighbors", fields, json!({ "feature": feature, "k": k, "by": by }), |s, q, _| saex_engine::neighbors(s, q))
    }

    /// `saex groups` on items given inline (`GroupsRequest` fields as keywords).
    #[pyo3(signature = (**fields))]
    fn groups<'py>(slf: &Bound<'py, Self>, fields: Option<&Bound<'py, PyDict>>) -> PyResult<Bound<'py, PyAny>> {
        call(slf, "groups", fields, Value::Null, |s, q, _| saex_engine::groups(s, q))
    }

    /// `saex explore --json` (`ExploreRequest` fields as keywords).
    #[pyo3(signature = (**fields))]
    fn explore<'py>(slf: &Bound<'py, Self>, fields: Option<&Bound<'py, PyDict>>) -> PyResult<Bound<'py, PyAny>> {
        call(slf, "explore", fields, Value::Null, |s, q, _| saex_engine::explore(s, q))
    }

    /// `saex explore --concept --json` (`ConceptRequest` fields as keywords).
    #[pyo3(signature = (**fields))]
    fn concept<'py>(slf: &Bound<'py, Self>, fields: Option<&Bound<'py, PyDict>>) -> PyResult<Bound<'py, PyAny>> {
        call(slf, "concept", fields, Value::Null, |s, q, _| saex_engine::concept(s, q))
    }

    /// `saex highlight --json`: the text's tokens and each feature's activation at each.
    #[pyo3(signature = (text, features, **fields))]
    fn highlight<'py>(
        slf: &Bound<'py, Self>,
        text: &str,
        features: Vec<u32>,
        fields: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        call(slf, "highlight", fields, json!({ "text": text, "features": features }), |s, q, _| saex_engine::highlight(s, q))
    }

    /// `saex map --json` (`MapRequest` fields as keywords).
    #[pyo3(signature = (**fields))]
    fn map<'py>(slf: &Bound<'py, Self>, fields: Option<&Bound<'py, PyDict>>) -> PyResult<Bound<'py, PyAny>> {
        call(slf, "map", fields, Value::Null, |s, q, _| saex_engine::map(s, q))
    }

    /// `saex encode`: tokens, the hook's activations and the feature activations: a
    /// scipy.sparse CSR matrix when scipy is installed (an SAE's codes are mostly zeros), a
    /// dense array otherwise; `sparse=True` insists on CSR, `sparse=False` asks for dense.
    #[pyo3(signature = (text, sae=0, bos=true, sparse=None))]
    fn encode<'py>(&self, py: Python<'py>, text: &str, sae: usize, bos: bool, sparse: Option<bool>) -> PyResult<Bound<'py, PyDict>> {
        self.check_sae(sae)?;
        let s = &self.inner.saes[sae];
        let csr = match sparse {
            Some(false) => None,
            // Asked for: an ImportError naming scipy when it is missing.
            Some(true) => Some(py.import("saex._results")?.getattr("csr_matrix")?),
            // Chosen by what is installed: CSR when scipy imports, dense otherwise.
            None if py.import("scipy.sparse").is_ok() => Some(py.import("saex._results")?.getattr("csr_matrix")?),
            None => None,
        };
        let sparse = csr.is_some();
        let add_bos = self.add_bos(bos);
        let (enc, acts, input) = detached(py, |_| {
            let enc = saex_engine::encode(&self.inner, sae, text, add_bos)?;
            let acts = if sparse { None } else { Some(arrays::dense(&enc.acts)) };
            let input = arrays::tensor(&enc.input)?;
            Ok((enc, acts, input))
        })?;
        let tok = &self.inner.model.tokenizer;
        let pieces: Vec<String> = enc.tokens.iter().map(|&t| tok.id_to_piece(t).unwrap_or_default()).collect();
        let out = PyDict::new(py);
        out.set_item("tokens", pieces)?;
        out.set_item("token_ids", enc.tokens.clone())?;
        out.set_item("hook", s.hook.to_string())?;
        out.set_item("activations", input.into_pyarray(py))?;
        match (acts, csr) {
            (Some(dense), _) => out.set_item("feature_acts", dense.into_pyarray(py))?,
            (None, Some(csr)) => {
                let a = &enc.acts;
                let (values, features, indptr) = (a.values.clone(), a.features.clone(), a.indptr.clone());
                let shape = (a.n_tokens(), a.d_sae);
                out.set_item(
                    "feature_acts",
                    csr.call1((values.into_pyarray(py), features.into_pyarray(py), indptr.into_pyarray(py), shape))?,
                )?
            }
            (None, None) => unreachable!("dense whenever there is no csr_matrix"),
        }
        Ok(out)
    }

    /// `saex capture`: `{hook: array [n_tokens, ...]}` for each hook asked for.
    #[pyo3(signature = (text, hooks, bos=true))]
    fn capture<'py>(&self, py: Python<'py>, text: &str, hooks: Vec<String>, bos: bool) -> PyResult<Bound<'py, PyDict>> {
        let hooks = parse_hooks(&hooks)?;
        let add_bos = self.add_bos(bos);
        let arrays = detached(py, |_| {
            let acts = saex_engine::capture(&self.inner, &hooks, text, add_bos)?;
            acts.hooks.iter().map(|(h, t)| Ok((h.to_string(), arrays::tensor(t)?))).collect::<saex_engine::Result<Vec<_>>>()
        })?;
        let out = PyDict::new(py);
        for (hook, a) in arrays {
            out.set_item(hook, a.into_pyarray(py))?;
        }
        Ok(out)
    }

    /// `saex index build --json`: the corpus activation index of the session's SAEs over
    /// `corpus` into `out`, the CLI's files; returns the build report (manifest, resumed,
    /// reused, seconds). A rerun resumes or reuses it; Ctrl-C saves a checkpoint first.
    #[pyo3(signature = (corpus, out, ctx=128, top_k=20, quantile_bins=10, per_bin=5, block=16, max_tokens=0, shard=None, logits=None, checkpoint_secs=60))]
    #[allow(clippy::too_many_arguments)] // Python keyword arguments, each optional
    fn index_build<'py>(
        &self,
        py: Python<'py>,
        corpus: PathBuf,
        out: PathBuf,
        ctx: usize,
        top_k: usize,
        quantile_bins: usize,
        per_bin: usize,
        block: usize,
        max_tokens: usize,
        shard: Option<&str>,
        logits: Option<bool>,
        checkpoint_secs: u64,
    ) -> PyResult<Bound<'py, PyAny>> {
        use saex_engine::index_store::{IndexOptions, Shard};
        let shard = match shard {
            Some(s) => Shard::parse(s).map_err(|e| invalid(format!("shard: {e}")))?,
            None => Shard::WHOLE,
        };
        let sample_k = quantile_bins.saturating_mul(per_bin);
        let options = IndexOptions { ctx, top_k, quantile_bins, per_bin, sample_k, block, max_tokens, ..IndexOptions::default() };
        let logits = logits.unwrap_or(self.inner.logits);
        let req = saex_engine::IndexBuildRequest { corpus, out, options, shard, logits, logit_k: 10, checkpoint_secs };
        let r = detached(py, |cancel| saex_engine::index_build(&self.inner, &req, &mut |_| {}, Some(cancel)))?;
        result(py, "index_build", &r, None)
    }

    /// `saex top-texts --json` without an index: per feature, the texts where it fires hardest.
    #[pyo3(signature = (features, texts, k=10, ctx_tokens=128, context=40, sae=0))]
    #[allow(clippy::too_many_arguments)] // Python keyword arguments, each optional
    fn top_texts<'py>(
        &self,
        py: Python<'py>,
        features: Vec<u32>,
        texts: Vec<String>,
        k: usize,
        ctx_tokens: usize,
        context: usize,
        sae: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.check_sae(sae)?;
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let out = detached(py, |_| saex_engine::top_texts(&self.inner, sae, &refs, &features, k, ctx_tokens, context))?;
        result(py, "top_texts", &out, None)
    }

    /// `saex label get --json` for a loaded SAE.
    #[pyo3(signature = (feature, sae_id=None))]
    fn label<'py>(&self, py: Python<'py>, feature: u32, sae_id: Option<&str>) -> PyResult<Bound<'py, PyAny>> {
        labels::get(py, self.inner.label_store(), &self.label_target(sae_id)?, feature)
    }

    /// `saex label set --json` for a loaded SAE; later results show the new label.
    #[pyo3(signature = (feature, sae_id=None, **fields))]
    fn set_label<'py>(
        &self,
        py: Python<'py>,
        feature: u32,
        sae_id: Option<&str>,
        fields: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let r = labels::set(py, self.inner.label_store(), &self.label_target(sae_id)?, feature, fields)?;
        self.reload_labels(py)?;
        Ok(r)
    }

    /// `saex label list --json` for a loaded SAE.
    #[pyo3(signature = (sae_id=None, source=None))]
    fn labels<'py>(&self, py: Python<'py>, sae_id: Option<&str>, source: Option<&str>) -> PyResult<Bound<'py, PyAny>> {
        labels::list(py, self.inner.label_store(), &self.label_target(sae_id)?, source)
    }

    /// `saex label import --json` into a loaded SAE's registry (seed 003's dict or file).
    #[pyo3(signature = (registry, sae_id=None, source=None))]
    fn import_labels<'py>(
        &self,
        py: Python<'py>,
        registry: &Bound<'py, PyAny>,
        sae_id: Option<&str>,
        source: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let r = labels::import(py, self.inner.label_store(), &self.label_target(sae_id)?, registry, source)?;
        self.reload_labels(py)?;
        Ok(r)
    }

    /// Read every SAE's labels again (after the registry changed, e.g. through a `saex.Sae`),
    /// so verbs show the new ones.
    fn reload_labels(&self, py: Python<'_>) -> PyResult<()> {
        detached(py, |_| self.inner.reload_labels())
    }

    /// mlxterp's `get_top_features_for_text`: `[(feature_id, activation)]`, strongest first
    /// (max over the tokens; dense features skipped as in `top_features`).
    #[pyo3(signature = (text, top_k=10, sae_id=None))]
    fn get_top_features_for_text(&self, py: Python<'_>, text: &str, top_k: usize, sae_id: Option<String>) -> PyResult<Vec<(u32, f32)>> {
        let req = TopRequest { k: top_k, sae_id, ..TopRequest::new(text) };
        let out = detached(py, |_| saex_engine::top(&self.inner, &req))?;
        Ok(out.features.iter().map(|f| (f.feature_id, f.value)).collect())
    }

    /// mlxterp's `get_top_texts_for_feature`: `[(text, activation, position)]`, strongest
    /// first, one per text (its peak token; position counts bos).
    #[pyo3(signature = (feature_id, texts, top_k=10, sae=0))]
    fn get_top_texts_for_feature<'py>(
        &self,
        py: Python<'py>,
        feature_id: u32,
        texts: Vec<String>,
        top_k: usize,
        sae: usize,
    ) -> PyResult<Bound<'py, PyList>> {
        self.check_sae(sae)?;
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let found = detached(py, |_| saex_engine::top_texts(&self.inner, sae, &refs, &[feature_id], top_k, usize::MAX, 0))?;
        let rows = found.iter().flat_map(|f| &f.examples).map(|e| (texts[e.text_index].as_str(), e.act, e.position));
        PyList::new(py, rows)
    }

    /// For bench/python_binding.py: `top_features`, and the seconds the engine took inside
    /// this same call (timed on the worker thread), so the call's wall time minus it is the
    /// binding's own cost.
    #[pyo3(signature = (text, **fields))]
    fn _top_features_timed<'py>(
        slf: &Bound<'py, Self>,
        text: &str,
        fields: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<(Bound<'py, PyAny>, f64)> {
        call_timed(slf, "top_features", fields, json!({ "text": text }), |s, q, _| saex_engine::top(s, q))
    }

    fn __repr__(&self) -> String {
        let saes: Vec<&str> = self.inner.saes.iter().map(|s| s.id.as_str()).collect();
        format!("saex.Session(model={:?}, saes={saes:?}, logits={})", self.inner.model_id, self.inner.logits)
    }
}

/// Seed 002's drift: the same prompts discovered on sessions `a` and `b` (each a str prompt
/// or a dict of discover fields, over `fields`) and compared; or, with `a` and `b` lists of
/// discover results, those compared.
#[pyfunction]
#[pyo3(signature = (a, b, prompts=None, **fields))]
pub fn drift<'py>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    b: &Bound<'py, PyAny>,
    prompts: Option<Vec<Bound<'py, PyAny>>>,
    fields: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let (Ok(sa), Ok(sb)) = (a.cast::<Session>(), b.cast::<Session>()) else {
        if prompts.is_some() || fields.is_some_and(|f| !f.is_empty()) {
            return Err(invalid("drift of discover results takes no prompts or fields; give two Sessions to discover them"));
        }
        let req: saex_engine::DriftRequest = request(py, None, json!({ "a": as_json(py, a)?, "b": as_json(py, b)? }))?;
        let d = detached(py, |_| saex_engine::drift(&req))?;
        return result(py, "drift", &d, None);
    };
    let Some(prompts) = prompts.filter(|p| !p.is_empty()) else { return Err(invalid("drift: give the prompts")) };
    // As `saex drift`: the prompts analysed as they are unless `generate=True`.
    let generate_given = fields.map(|f| f.contains("generate")).transpose()?.unwrap_or(false);
    let base: saex_engine::DiscoverRequest = request(py, fields, if generate_given { Value::Null } else { json!({ "generate": false }) })?;
    let reqs = prompts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let line = serde_json::to_string(&as_json(py, p)?).map_err(saex_error)?;
            prompt_request(&base, &line).map_err(|e| invalid(format!("prompt {}: {}", i + 1, crate::error::message(&e))))
        })
        .collect::<PyResult<Vec<_>>>()?;
    let (sa, sb) = (&sa.get().inner, &sb.get().inner);
    let d = detached(py, |_| saex_engine::drift_sessions(sa, sb, &reqs, &mut |_, _| ()))?;
    result(py, "drift", &d, None)
}

/// One prompt of a drift as discover's batch reads a line: a string is a prompt, an object
/// a request over `base` (a text is analysed as is, not generated from).
fn prompt_request(base: &saex_engine::DiscoverRequest, line: &str) -> saex_analysis::Result<saex_engine::DiscoverRequest> {
    let mut r = saex_analysis::discover::request_from_line(base, line)?;
    if r.text.is_some() {
        r.generate = None;
    }
    Ok(r)
}

/// A Python value as JSON.
fn as_json(py: Python<'_>, v: &Bound<'_, PyAny>) -> PyResult<Value> {
    let text: String = py.import("json")?.call_method1("dumps", (v,))?.extract()?;
    serde_json::from_str(&text).map_err(|e| invalid(format!("not JSON: {e}")))
}
