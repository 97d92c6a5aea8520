//! `saex.Session`: a model and its SAEs, loaded once, and one method per engine verb.
//!
//! Every method only translates: Python arguments → the engine's request → the engine
//! function (with the GIL released, panics caught) → the report as a dict or numpy arrays.
//! A new verb is one method calling [`Session::call`].

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;

use numpy::IntoPyArray;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

use saex_engine::{SessionOptions, TopRequest};
use saex_hooks::Hook;

use crate::arrays;
use crate::convert::{report, request};
use crate::error::{from_panic, invalid, saex_error};

/// Size cap of the activation cache when a `cache_dir` is given (the CLI's default).
const CACHE_MAX_BYTES: u64 = 1024 << 20;

/// Run `f` without the GIL (other Python threads go on while the model runs), turning its
/// error and any panic into `SaexError`.
fn detached<T: Send>(py: Python<'_>, f: impl FnOnce() -> saex_engine::Result<T> + Send) -> PyResult<T> {
    py.detach(|| std::panic::catch_unwind(AssertUnwindSafe(f))).map_err(from_panic)?.map_err(saex_error)
}

fn parse_hooks(hooks: &[String]) -> PyResult<Vec<Hook>> {
    hooks.iter().map(|h| h.trim().parse::<Hook>().map_err(saex_error)).collect()
}

/// A model and its SAEs (`saex_engine::Session`).
#[pyclass(module = "saex", name = "Session", frozen)]
pub struct Session {
    inner: saex_engine::Session,
}

impl Session {
    /// The generic verb: keyword arguments (plus `given`) → request `Q` → `verb` → dict.
    fn call<'py, Q, R>(
        &self,
        py: Python<'py>,
        fields: Option<&Bound<'py, PyDict>>,
        given: Value,
        verb: impl Fn(&saex_engine::Session, &Q) -> saex_engine::Result<R> + Sync,
    ) -> PyResult<Bound<'py, PyAny>>
    where
        Q: DeserializeOwned + Sync,
        R: Serialize + Send,
    {
        let req: Q = request(py, fields, given)?;
        let session = &self.inner;
        let out = detached(py, || verb(session, &req))?;
        report(py, &out)
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
        model: String,
        saes: Vec<String>,
        logits: bool,
        hooks: Vec<String>,
        sae_hooks: Vec<Option<String>>,
        labels: Vec<PathBuf>,
        cache_dir: Option<PathBuf>,
        dtype: Option<String>,
        registry: Option<PathBuf>,
    ) -> PyResult<Session> {
        let hooks = parse_hooks(&hooks)?;
        let sae_hooks =
            sae_hooks.iter().map(|h| h.as_deref().map(str::parse::<Hook>).transpose().map_err(saex_error)).collect::<PyResult<Vec<_>>>()?;
        let dtype = dtype.as_deref().map(str::parse::<saex_model::Dtype>).transpose().map_err(saex_error)?.unwrap_or_default();
        let cache = cache_dir.map(|d| saex_cache::Cache::open(d, CACHE_MAX_BYTES)).transpose().map_err(saex_error)?;
        let opts = SessionOptions { labels, registry, cache, logits, sae_hooks, hooks, dtype };
        let inner = detached(py, || saex_engine::Session::open(&model, &saes, opts))?;
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
        let out = detached(py, || saex_engine::tokenize(tok, text, bos))?;
        report(py, &out)
    }

    /// `saex top-features --json` (`TopRequest` fields as keywords).
    #[pyo3(signature = (text, **fields))]
    fn top_features<'py>(&self, py: Python<'py>, text: &str, fields: Option<&Bound<'py, PyDict>>) -> PyResult<Bound<'py, PyAny>> {
        self.call(py, fields, json!({ "text": text }), saex_engine::top)
    }

    /// `saex discover --json` (`DiscoverRequest` fields as keywords).
    #[pyo3(signature = (**fields))]
    fn discover<'py>(&self, py: Python<'py>, fields: Option<&Bound<'py, PyDict>>) -> PyResult<Bound<'py, PyAny>> {
        self.call(py, fields, Value::Null, saex_engine::discover)
    }

    /// `saex steer --json` (`SteerRequest` fields as keywords).
    #[pyo3(signature = (**fields))]
    fn steer<'py>(&self, py: Python<'py>, fields: Option<&Bound<'py, PyDict>>) -> PyResult<Bound<'py, PyAny>> {
        self.call(py, fields, Value::Null, |s, q| saex_engine::steer(s, q, None))
    }

    /// `saex generate` (`GenerateRequest`; defaults: greedy, 32 tokens).
    #[pyo3(signature = (prompt, max_new_tokens=32, temperature=0.0, top_p=1.0, seed=0, bos=true))]
    #[allow(clippy::too_many_arguments)] // Python keyword arguments, each optional
    fn generate<'py>(
        &self,
        py: Python<'py>,
        prompt: &str,
        max_new_tokens: usize,
        temperature: f64,
        top_p: f64,
        seed: u64,
        bos: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let given = json!({ "prompt": prompt, "max_new_tokens": max_new_tokens, "temperature": temperature, "top_p": top_p, "seed": seed, "bos": bos });
        self.call(py, None, given, |s, q| saex_engine::generate(s, q, None))
    }

    /// `saex logit-stats --json` (`LogitStatsRequest` fields as keywords).
    #[pyo3(signature = (**fields))]
    fn logit_stats<'py>(&self, py: Python<'py>, fields: Option<&Bound<'py, PyDict>>) -> PyResult<Bound<'py, PyAny>> {
        self.call(py, fields, Value::Null, saex_engine::logit_stats)
    }

    /// `saex neighbors --json` (`NeighborsRequest` fields as keywords).
    #[pyo3(signature = (feature, k=10, by="decoder", **fields))]
    fn neighbors<'py>(
        &self,
        py: Python<'py>,
        feature: u32,
        k: usize,
        by: &str,
        fields: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.call(py, fields, json!({ "feature": feature, "k": k, "by": by }), saex_engine::neighbors)
    }

    /// `saex groups` on items given inline (`GroupsRequest` fields as keywords).
    #[pyo3(signature = (**fields))]
    fn groups<'py>(&self, py: Python<'py>, fields: Option<&Bound<'py, PyDict>>) -> PyResult<Bound<'py, PyAny>> {
        self.call(py, fields, Value::Null, saex_engine::groups)
    }

    /// `saex explore --json` (`ExploreRequest` fields as keywords).
    #[pyo3(signature = (**fields))]
    fn explore<'py>(&self, py: Python<'py>, fields: Option<&Bound<'py, PyDict>>) -> PyResult<Bound<'py, PyAny>> {
        self.call(py, fields, Value::Null, saex_engine::explore)
    }

    /// `saex explore --concept --json` (`ConceptRequest` fields as keywords).
    #[pyo3(signature = (**fields))]
    fn concept<'py>(&self, py: Python<'py>, fields: Option<&Bound<'py, PyDict>>) -> PyResult<Bound<'py, PyAny>> {
        self.call(py, fields, Value::Null, saex_engine::concept)
    }

    /// `saex encode`: tokens, the hook's activations and dense feature activations.
    #[pyo3(signature = (text, sae=0, bos=true))]
    fn encode<'py>(&self, py: Python<'py>, text: &str, sae: usize, bos: bool) -> PyResult<Bound<'py, PyDict>> {
        let Some(s) = self.inner.saes.get(sae) else {
            return Err(invalid(format!("sae {sae} is out of range ({} loaded)", self.inner.saes.len())));
        };
        let add_bos = self.add_bos(bos);
        let (enc, acts, input) = detached(py, || {
            let enc = saex_engine::encode(&self.inner, sae, text, add_bos)?;
            let acts = arrays::dense(&enc.acts);
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
        out.set_item("feature_acts", acts.into_pyarray(py))?;
        Ok(out)
    }

    /// `saex capture`: `{hook: array [n_tokens, ...]}` for each hook asked for.
    #[pyo3(signature = (text, hooks, bos=true))]
    fn capture<'py>(&self, py: Python<'py>, text: &str, hooks: Vec<String>, bos: bool) -> PyResult<Bound<'py, PyDict>> {
        let hooks = parse_hooks(&hooks)?;
        let add_bos = self.add_bos(bos);
        let arrays = detached(py, || {
            let acts = saex_engine::capture(&self.inner, &hooks, text, add_bos)?;
            acts.hooks.iter().map(|(h, t)| Ok((h.to_string(), arrays::tensor(t)?))).collect::<saex_engine::Result<Vec<_>>>()
        })?;
        let out = PyDict::new(py);
        for (hook, a) in arrays {
            out.set_item(hook, a.into_pyarray(py))?;
        }
        Ok(out)
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
        if sae >= self.inner.saes.len() {
            return Err(invalid(format!("sae {sae} is out of range ({} loaded)", self.inner.saes.len())));
        }
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let out = detached(py, || saex_engine::top_texts(&self.inner, sae, &refs, &features, k, ctx_tokens, context))?;
        report(py, &out)
    }

    /// mlxterp's `get_top_features_for_text`: `[(feature_id, activation)]`, strongest first
    /// (max over the tokens; dense features skipped as in `top_features`).
    #[pyo3(signature = (text, top_k=10))]
    fn get_top_features_for_text(&self, py: Python<'_>, text: &str, top_k: usize) -> PyResult<Vec<(u32, f32)>> {
        let req = TopRequest { k: top_k, ..TopRequest::new(text) };
        let out = detached(py, || saex_engine::top(&self.inner, &req))?;
        Ok(out.features.iter().map(|f| (f.feature_id, f.value)).collect())
    }

    /// mlxterp's `get_top_texts_for_feature`: `[(text, activation, position)]`, strongest
    /// first, one per text (its peak token; position counts bos).
    #[pyo3(signature = (feature_id, texts, top_k=10))]
    fn get_top_texts_for_feature<'py>(
        &self,
        py: Python<'py>,
        feature_id: u32,
        texts: Vec<String>,
        top_k: usize,
    ) -> PyResult<Bound<'py, PyList>> {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let found = detached(py, || saex_engine::top_texts(&self.inner, 0, &refs, &[feature_id], top_k, usize::MAX, 0))?;
        let rows = found.iter().flat_map(|f| &f.examples).map(|e| (texts[e.text_index].as_str(), e.act, e.position));
        PyList::new(py, rows)
    }

    fn __repr__(&self) -> String {
        let saes: Vec<&str> = self.inner.saes.iter().map(|s| s.id.as_str()).collect();
        format!("saex.Session(model={:?}, saes={saes:?}, logits={})", self.inner.model_id, self.inner.logits)
    }
}
