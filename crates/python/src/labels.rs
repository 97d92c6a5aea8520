//! The label registry from Python (`saex label get|set|list|import`), for a session's SAE or
//! a standalone `saex.Sae`, and `saex.Sae` itself.

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use serde_json::Value;

use saex_engine::saex_labels::ops::Patch;
use saex_engine::saex_labels::{entry, Source, Store};
use saex_engine::LabelTarget;

use crate::convert::{request, result};
use crate::error::{invalid, saex_error};
use crate::run::detached;

fn source(s: Option<&str>) -> PyResult<Option<Source>> {
    s.map(|s| s.parse::<Source>().map_err(|e| invalid(format!("source: {e}")))).transpose()
}

/// `saex label get --json`.
pub fn get<'py>(py: Python<'py>, store: &Store, t: &LabelTarget, feature: u32) -> PyResult<Bound<'py, PyAny>> {
    let r = detached(py, |_| saex_engine::label_get(store, t, feature))?;
    result(py, "label", &r, None)
}

/// `saex label set --json` (`Patch` fields as keywords: name, description, examples,
/// confidence, notes).
pub fn set<'py>(
    py: Python<'py>,
    store: &Store,
    t: &LabelTarget,
    feature: u32,
    fields: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let patch: Patch = request(py, fields, Value::Null)?;
    let r = detached(py, |_| saex_engine::label_set(store, t, feature, &patch))?;
    result(py, "label", &r, None)
}

/// `saex label list --json`.
pub fn list<'py>(py: Python<'py>, store: &Store, t: &LabelTarget, src: Option<&str>) -> PyResult<Bound<'py, PyAny>> {
    let src = source(src)?;
    let r = detached(py, |_| saex_engine::label_list(store, t, src))?;
    result(py, "labels", &r, None)
}

/// `saex label import --json`: `registry` is seed 003's dict (`{feature_id: {"name", …}}`)
/// or the path of such a JSON file.
pub fn import<'py>(
    py: Python<'py>,
    store: &Store,
    t: &LabelTarget,
    registry: &Bound<'py, PyAny>,
    src: Option<&str>,
) -> PyResult<Bound<'py, PyAny>> {
    let src = source(src)?;
    let (bytes, what) = if registry.is_instance_of::<PyDict>() {
        let text: String = py.import("json")?.call_method1("dumps", (registry,))?.extract()?;
        (text.into_bytes(), "the registry given".to_string())
    } else {
        let path: PathBuf = registry.extract().map_err(|_| invalid("registry: give a dict in seed 003's layout or a file's path"))?;
        let bytes = std::fs::read(&path).map_err(|e| invalid(format!("{}: {e}", path.display())))?;
        (bytes, path.display().to_string())
    };
    let reg = entry::parse(&bytes).map_err(|m| invalid(format!("{what}: not a registry in seed 003's layout: {m}")))?;
    let r = detached(py, |_| saex_engine::label_import(store, t, reg, src, &what))?;
    result(py, "label_import", &r, None)
}

/// An SAE on its own, without a model: a directory or a SAELens release path, its size, and
/// its label registry. Pass it to `Session` (or `Model`) wherever an SAE is named.
#[pyclass(module = "saex", name = "Sae", frozen)]
pub struct Sae {
    spec: String,
    hook: Option<String>,
    target: LabelTarget,
    store: Store,
}

impl Sae {
    /// How sessions name it.
    pub fn spec(&self) -> &str {
        &self.spec
    }

    /// The hook given for it, if any.
    pub fn hook(&self) -> Option<&str> {
        self.hook.as_deref()
    }
}

/// A path or SAELens release from `str` or `os.PathLike`.
pub fn spec_of(v: &Bound<'_, PyAny>) -> PyResult<String> {
    if v.is_instance_of::<PyString>() {
        return v.extract();
    }
    let p: PathBuf = v.extract().map_err(|_| {
        invalid(format!(
            "an SAE is a path, a SAELens release or a saex.Sae, not {}",
            v.get_type().name().map(|n| n.to_string()).unwrap_or_default()
        ))
    })?;
    Ok(p.to_string_lossy().into_owned())
}

#[pymethods]
impl Sae {
    /// Load the SAE to check it and read its size. See `saex/_saex.pyi`.
    #[new]
    #[pyo3(signature = (path_or_release, hook=None, registry=None))]
    fn new(py: Python<'_>, path_or_release: &Bound<'_, PyAny>, hook: Option<String>, registry: Option<PathBuf>) -> PyResult<Sae> {
        let spec = spec_of(path_or_release)?;
        if let Some(h) = &hook {
            h.parse::<saex_hooks::Hook>().map_err(saex_error)?;
        }
        let target = detached(py, |_| saex_engine::label_target(&spec))?;
        let store = registry.map(Store::new).unwrap_or_else(Store::default_location);
        Ok(Sae { spec, hook, target, store })
    }

    /// How it was named (the path or release given).
    #[getter]
    fn id(&self) -> &str {
        &self.spec
    }

    /// The hook it was given for sessions (`None`: the SAE's own).
    #[getter(hook)]
    fn hook_name(&self) -> Option<&str> {
        self.hook.as_deref()
    }

    /// Its number of features.
    #[getter]
    fn d_sae(&self) -> usize {
        self.target.d_sae
    }

    /// Its Neuronpedia id (modelId/layer), when its config names one.
    #[getter]
    fn neuronpedia_id(&self) -> Option<&str> {
        self.target.neuronpedia_id.as_deref()
    }

    /// Its label registry file.
    #[getter]
    fn registry_path(&self) -> String {
        self.store.path(&self.target.key).display().to_string()
    }

    /// `saex label get --json`: the registry entry of `feature`.
    fn label<'py>(&self, py: Python<'py>, feature: u32) -> PyResult<Bound<'py, PyAny>> {
        get(py, &self.store, &self.target, feature)
    }

    /// `saex label set --json`: change `feature`'s entry (it becomes a hand entry).
    #[pyo3(signature = (feature, **fields))]
    fn set_label<'py>(&self, py: Python<'py>, feature: u32, fields: Option<&Bound<'py, PyDict>>) -> PyResult<Bound<'py, PyAny>> {
        set(py, &self.store, &self.target, feature, fields)
    }

    /// `saex label list --json`: the registry, narrowed to `source` when given.
    #[pyo3(signature = (source=None))]
    fn labels<'py>(&self, py: Python<'py>, source: Option<&str>) -> PyResult<Bound<'py, PyAny>> {
        list(py, &self.store, &self.target, source)
    }

    /// `saex label import --json`: seed 003's registry (a dict or a JSON file) into this SAE's.
    #[pyo3(signature = (registry, source=None))]
    fn import_labels<'py>(&self, py: Python<'py>, registry: &Bound<'py, PyAny>, source: Option<&str>) -> PyResult<Bound<'py, PyAny>> {
        import(py, &self.store, &self.target, registry, source)
    }

    fn __repr__(&self) -> String {
        let hook = self.hook.as_deref().map(|h| format!(", hook={h:?}")).unwrap_or_default();
        format!("saex.Sae({:?}{hook}, d_sae={})", self.spec, self.target.d_sae)
    }
}
