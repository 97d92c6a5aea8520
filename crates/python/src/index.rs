//! `saex.Index`: a corpus activation index (`saex index build`) opened for queries —
//! `saex feature`, `saex top-texts --index`, the dashboards' feature list. No model: answers
//! come from the index files in milliseconds.

use std::path::PathBuf;

use pyo3::prelude::*;

use saex_engine::index_store::Index as Store;
use saex_engine::IndexLabels;

use crate::convert::result;
use crate::run::detached;

/// `saex index merge`: the shards in `shards` (all N of one build) into the index at `out`,
/// byte for byte the index one run writes; returns its manifest.
#[pyfunction]
pub fn index_merge<'py>(py: Python<'py>, shards: Vec<PathBuf>, out: PathBuf) -> PyResult<Bound<'py, PyAny>> {
    let m = detached(py, |_| saex_engine::index_merge(&shards, &out))?;
    result(py, "index_merge", &m, None)
}

/// An index folder, opened and checked, with its SAEs' labels.
#[pyclass(module = "saex", name = "Index", frozen)]
pub struct Index {
    index: Store,
    labels: IndexLabels,
}

#[pymethods]
impl Index {
    /// Open `path` (`saex index build`'s folder). See `saex/_saex.pyi`.
    #[new]
    #[pyo3(signature = (path, labels=Vec::new(), registry=None))]
    fn new(py: Python<'_>, path: PathBuf, labels: Vec<PathBuf>, registry: Option<PathBuf>) -> PyResult<Index> {
        let store = registry.map(saex_engine::saex_labels::Store::new).unwrap_or_else(saex_engine::saex_labels::Store::default_location);
        let (index, labels) = detached(py, |_| {
            let index = Store::open(&path).map_err(saex_engine::from_index)?;
            let labels = IndexLabels::load(&index, &labels, Some(&store))?;
            Ok((index, labels))
        })?;
        Ok(Index { index, labels })
    }

    /// The folder.
    #[getter]
    fn path(&self) -> String {
        self.index.dir.display().to_string()
    }

    /// Its SAEs' ids, in the manifest's order.
    #[getter]
    fn saes(&self) -> Vec<String> {
        self.index.manifest.saes.iter().map(|s| s.id.clone()).collect()
    }

    /// `saex feature --json`: everything the index knows about `feature` of SAE `sae`
    /// (`None`: the only one).
    #[pyo3(signature = (feature, sae=None))]
    fn feature<'py>(&self, py: Python<'py>, feature: u32, sae: Option<&str>) -> PyResult<Bound<'py, PyAny>> {
        let r = detached(py, |_| saex_engine::feature(&self.index, sae, feature, &self.labels))?;
        result(py, "feature", &r, None)
    }

    /// `saex top-texts --index --json`: the feature's `k` strongest examples,
    /// `[{"sae_id", "feature_id", "text", "activation", "position", "doc", "category", "token"}]`.
    #[pyo3(signature = (feature, k=5, sae=None))]
    fn top_texts<'py>(&self, py: Python<'py>, feature: u32, k: usize, sae: Option<&str>) -> PyResult<Bound<'py, PyAny>> {
        let r = detached(py, |_| saex_engine::top_texts_indexed(&self.index, sae, feature, k))?;
        result(py, "index_top_texts", &r, None)
    }

    /// Every feature of SAE `sae` with its statistics and label, in feature order (the
    /// dashboards' browse list).
    #[pyo3(signature = (sae=None))]
    fn features<'py>(&self, py: Python<'py>, sae: Option<&str>) -> PyResult<Bound<'py, PyAny>> {
        let r = detached(py, |_| saex_engine::summaries(&self.index, sae, &self.labels))?;
        result(py, "summaries", &r, None)
    }

    fn __repr__(&self) -> String {
        format!("saex.Index({:?}, saes={:?})", self.index.dir.display().to_string(), self.saes())
    }
}
