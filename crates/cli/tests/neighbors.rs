//! `saex neighbors` on the demo SAE against brute force: every cosine of the query's decoder
//! row (or encoder column) with all 4,096 others in f64, sorted; the blocked scan must give
//! the same ids in the same order and the same cosines.

mod common;

use common::{demo_sae, fails_with, saex};

fn brute(rows: &[Vec<f32>], q: usize, k: usize) -> Vec<(u32, f64)> {
    let norm = |r: &[f32]| r.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>().sqrt();
    let nq = norm(&rows[q]);
    let mut all: Vec<(u32, f64)> = rows
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != q)
        .map(|(i, r)| {
            let dot: f64 = r.iter().zip(&rows[q]).map(|(&a, &b)| f64::from(a) * f64::from(b)).sum();
            (i as u32, dot / (norm(r) * nq))
        })
        .collect();
    all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    all.truncate(k);
    all
}

fn run(feature: u32, k: usize, by: &str) -> Vec<(u32, f64)> {
    let out = saex(&["neighbors", "--sae", &demo_sae(), "--feature", &feature.to_string(), "--k", &k.to_string(), "--by", by, "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    v.iter().map(|n| (n["feature_id"].as_u64().unwrap() as u32, n["cosine"].as_f64().unwrap())).collect()
}

#[test]
fn decoder_and_encoder_neighbours_equal_brute_force() {
    let sae = saex_sae::Sae::load(&demo_sae()).unwrap();
    let dec: Vec<Vec<f32>> = sae.w_dec().to_dtype(candle_core::DType::F32).unwrap().to_vec2().unwrap();
    let enc: Vec<Vec<f32>> = sae.w_enc().to_dtype(candle_core::DType::F32).unwrap().t().unwrap().to_vec2().unwrap();
    for (rows, by) in [(&dec, "decoder"), (&enc, "encoder")] {
        for q in [0u32, 3705, 4095] {
            let got = run(q, 12, by);
            let want = brute(rows, q as usize, 12);
            assert_eq!(got.len(), 12);
            for (g, w) in got.iter().zip(&want) {
                // Near-ties may swap in f32; the cosine at each rank must agree either way.
                assert!((g.1 - w.1).abs() < 1e-5, "{by} #{q}: got {got:?}\nwant {want:?}");
            }
            let ids = |v: &[(u32, f64)]| v.iter().map(|n| n.0).collect::<Vec<_>>();
            let gaps_clear = want.windows(2).all(|w| w[0].1 - w[1].1 > 1e-5);
            if gaps_clear {
                assert_eq!(ids(&got), ids(&want), "{by} #{q}");
            }
        }
    }
}

#[test]
fn bad_input_is_one_clear_line() {
    fails_with(&saex(&["neighbors", "--sae", &demo_sae(), "--feature", "4096"]), &["4096", "out of range", "4096 features"]);
    fails_with(&saex(&["neighbors", "--sae", &demo_sae(), "--feature", "1", "--k", "0"]), &["k", "at least 1"]);
    fails_with(&saex(&["neighbors", "--sae", "/nonexistent/sae", "--feature", "1"]), &["/nonexistent/sae"]);
}
