//! Shared test helpers: one tolerance measure, fixture paths, and the throw-away Hugging Face
//! cache that holds fixture folders under real SAELens release names.
#![allow(dead_code, unused_imports)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use candle_core::Tensor;
use serde_json::Value;

pub use saex_testutil::{assert_close, rel_err, Tol};

/// f32 against SAELens's f32 (the brief's bound; measured worst is printed by the parity test).
pub const F32: Tol = Tol(1e-5);

/// The nonzero pattern of a 2-D tensor.
pub fn active(t: &Tensor) -> Vec<Vec<bool>> {
    t.to_vec2::<f32>().unwrap().into_iter().map(|r| r.into_iter().map(|v| v != 0.0).collect()).collect()
}

/// `fixtures/sae`.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/sae")
}

/// A fixture folder as a `&str` spec.
pub fn fixture(rel: &str) -> String {
    fixtures().join(rel).to_string_lossy().into_owned()
}

/// `fixtures/sae/cases.json`.
pub fn cases() -> Value {
    let text = std::fs::read_to_string(fixtures().join("cases.json")).expect("fixtures/sae/cases.json");
    serde_json::from_str(&text).unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}

/// Builds (once per test binary) an HF cache holding the fixture folders under the repos and
/// paths listed in `cases.json["cache"]`, and points `HF_HUB_CACHE` at it. Every test that may
/// read the environment calls this first, so the variable is set before anyone reads it.
pub fn hf_cache() -> &'static Path {
    static CACHE: OnceLock<PathBuf> = OnceLock::new();
    CACHE.get_or_init(|| {
        let exe = std::env::current_exe()
            .ok()
            .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().split('-').next().unwrap_or("").to_string()));
        let dir = scratch_root().join(format!("hf-cache-{}", exe.unwrap_or_default()));
        let _ = std::fs::remove_dir_all(&dir);
        let c = cases();
        let rev = c["revision"].as_str().unwrap();
        for e in c["cache"].as_array().unwrap() {
            let repo = e["repo"].as_str().unwrap();
            let root = dir.join(format!("models--{}", repo.replace('/', "--")));
            std::fs::create_dir_all(root.join("refs")).unwrap();
            std::fs::write(root.join("refs/main"), rev).unwrap();
            let dst = root.join("snapshots").join(rev).join(e["folder"].as_str().unwrap());
            copy_dir(&fixtures().join(e["fixture"].as_str().unwrap()), &dst);
        }
        std::env::set_var("HF_HUB_CACHE", &dir);
        dir
    })
}

/// `target/tmp/saex-sae` (cargo's scratch space for integration tests).
fn scratch_root() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("saex-sae")
}

/// A scratch copy of a fixture folder, for tests that break it.
pub fn scratch(rel: &str, tag: &str) -> PathBuf {
    let dir = scratch_root().join(tag);
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&fixtures().join(rel), &dir);
    dir
}
