//! saex's maps against the Python references of `fixtures/map/gen.py` on 512 decoder rows of
//! the demo SAE: UMAP keeps neighbourhoods as well as umap-learn does (trustworthiness within
//! 0.02 of umap-learn's, or better), saex's trustworthiness is scikit-learn's, and PCA is
//! numpy's.

use std::path::PathBuf;

use saex_analysis::embedding::{pca, trustworthiness, umap, UmapParams};
use serde_json::Value;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/map")
}

/// The rows (`n × d`, f32) and the reference.
fn fixture() -> (Vec<f32>, usize, usize, Value) {
    let r: Value = serde_json::from_slice(&std::fs::read(dir().join("reference.json")).unwrap()).unwrap();
    let bytes = std::fs::read(dir().join("rows.f32")).unwrap();
    let rows: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    let (n, d) = (r["rows"]["n"].as_u64().unwrap() as usize, r["rows"]["d"].as_u64().unwrap() as usize);
    assert_eq!(rows.len(), n * d);
    (rows, n, d, r)
}

fn points(v: &Value) -> Vec<[f64; 2]> {
    v.as_array().unwrap().iter().map(|p| [p[0].as_f64().unwrap(), p[1].as_f64().unwrap()]).collect()
}

#[test]
fn trustworthiness_is_scikit_learns() {
    let (rows, _, d, r) = fixture();
    let k = r["trustworthiness_k"].as_u64().unwrap() as usize;
    for (emb, want) in [(&r["umap"]["embedding"], &r["umap"]["trustworthiness"]), (&r["pca"]["scores"], &r["pca"]["trustworthiness"])] {
        let got = trustworthiness(&rows, d, &points(emb), k).unwrap();
        let want = want.as_f64().unwrap();
        assert!((got - want).abs() < 1e-6, "saex {got} vs scikit-learn {want}");
    }
}

#[test]
fn umap_keeps_neighbourhoods_as_well_as_umap_learn() {
    let (rows, n, d, r) = fixture();
    let u = umap(&rows, n, d, &UmapParams { n_neighbors: 15, min_dist: 0.1, seed: 42 }).unwrap();
    let ours = trustworthiness(&rows, d, &u.embedding, 15).unwrap();
    let theirs = r["umap"]["trustworthiness"].as_f64().unwrap();
    assert!(ours >= theirs - 0.02, "saex {ours:.4} < umap-learn {theirs:.4} − 0.02");
    assert_eq!(umap(&rows, n, d, &UmapParams { n_neighbors: 15, min_dist: 0.1, seed: 42 }).unwrap(), u, "a second run differs");
}

#[test]
fn pca_is_numpys() {
    let (rows, n, d, r) = fixture();
    let p = pca(&rows, n, d).unwrap();
    let want = points(&r["pca"]["scores"]);
    // Relative to the scores' rms, as STYLE.md's assert_close measures; f64 on both sides.
    let rms = (want.iter().map(|q| q[0] * q[0] + q[1] * q[1]).sum::<f64>() / (2 * n) as f64).sqrt();
    let err = p.scores.iter().zip(&want).flat_map(|(a, b)| [(a[0] - b[0]).abs(), (a[1] - b[1]).abs()]).fold(0f64, f64::max);
    assert!(err / rms < 1e-9, "max |saex − numpy| / rms = {:e}", err / rms);
    for (a, b) in p.explained.iter().zip(r["pca"]["explained"].as_array().unwrap()) {
        assert!((a - b.as_f64().unwrap()).abs() < 1e-12);
    }
}
