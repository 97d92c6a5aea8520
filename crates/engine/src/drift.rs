//! `drift`: the same prompts discovered on two models with the same SAE(s), compared
//! ([`saex_analysis::drift`]).

use saex_analysis::discover::DiscoverRequest;
use saex_analysis::drift::{drift as compare, Drift};
use serde::{Deserialize, Serialize};

use crate::discover::discover;
use crate::error::Result;
use crate::session::Session;

/// `POST /v1/analysis/drift`: two lists of discover results of the same prompts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DriftRequest {
    /// Results on model A.
    pub a: Vec<saex_analysis::DiscoverResponse>,
    /// Results on model B, in the same order.
    pub b: Vec<saex_analysis::DiscoverResponse>,
}

/// Compare two lists of discover results.
pub fn drift(req: &DriftRequest) -> Result<Drift> {
    Ok(compare(&req.a, &req.b)?)
}

/// Discover every request on both sessions (their SAEs must have the same ids) and compare;
/// `progress` sees (done, total).
pub fn drift_sessions(a: &Session, b: &Session, reqs: &[DiscoverRequest], progress: &mut dyn FnMut(usize, usize)) -> Result<Drift> {
    let total = 2 * reqs.len();
    let mut ra = Vec::with_capacity(reqs.len());
    for (i, r) in reqs.iter().enumerate() {
        ra.push(discover(a, r)?);
        progress(i + 1, total);
    }
    let mut rb = Vec::with_capacity(reqs.len());
    for (i, r) in reqs.iter().enumerate() {
        rb.push(discover(b, r)?);
        progress(reqs.len() + i + 1, total);
    }
    drift(&DriftRequest { a: ra, b: rb })
}
