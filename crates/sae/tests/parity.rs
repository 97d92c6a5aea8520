//! Every fixture of `fixtures/sae` (made by `gen.py`) against SAELens 6.x: feature activations,
//! active sets, decode and forward; plus sparse == dense and restricted == dense columns.

mod common;

use candle_core::{Device, Tensor};
use common::{active, assert_close, cases, fixture, hf_cache, Tol, F32};
use saex_sae::Sae;
use serde_json::Value;

/// Restricted encode computes the same dot products over fewer columns; only the summation
/// blocking of the matmul may differ.
const RESTRICTED: Tol = Tol(1e-6);

fn check_config(sae: &Sae, case: &Value, name: &str) {
    let cfg = sae.config();
    assert_eq!(cfg.d_in as u64, case["d_in"].as_u64().unwrap(), "{name}: d_in");
    assert_eq!(cfg.d_sae as u64, case["d_sae"].as_u64().unwrap(), "{name}: d_sae");
    let arch = case.get("training_architecture").unwrap_or(&case["architecture"]).as_str().unwrap();
    assert_eq!(cfg.architecture.as_str(), arch, "{name}: architecture");
    assert_eq!(sae.hook().map(|h| h.to_string()), case["hook"].as_str().map(str::to_string), "{name}: hook");
    let norm = case["normalize_activations"].as_str().unwrap();
    assert_eq!(cfg.normalize_activations.as_str(), norm, "{name}: normalize_activations after load");
    if let Some(m) = case.get("model_name") {
        assert_eq!(sae.model_name(), m.as_str(), "{name}: model_name");
    }
}

#[test]
fn every_fixture_matches_saelens() {
    hf_cache();
    let refs = candle_core::safetensors::load(common::fixtures().join("reference.safetensors"), &Device::Cpu).unwrap();
    let c = cases();
    let mut report = Vec::new();
    let mut worst = [0f64; 3];
    for case in c["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let spec = case["spec"].as_str().unwrap();
        let is_release = name.starts_with("release_");
        let spec = if is_release { spec.to_string() } else { fixture(spec) };
        let sae = Sae::load(&spec).unwrap_or_else(|e| panic!("{name}: {e}"));
        check_config(&sae, case, name);
        let x = &refs[&format!("{name}.x")];
        let want_acts = &refs[&format!("{name}.acts")];
        let want_recon = &refs[&format!("{name}.recon")];

        let acts = sae.encode(x).unwrap();
        let e_acts = assert_close(&acts, want_acts, F32, &format!("{name}: acts"));
        assert_eq!(active(&acts), active(want_acts), "{name}: active set");

        // Decode SAELens's own activations, so decode is checked apart from encode.
        let recon = sae.decode_for(want_acts, x).unwrap();
        let want_flat = want_recon.reshape(recon.dims()).unwrap();
        let e_recon = assert_close(&recon, &want_flat, F32, &format!("{name}: decode"));
        if matches!(sae.config().normalize_activations.as_str(), "none" | "expected_average_only_in") {
            assert_eq!(sae.decode(want_acts).unwrap().to_vec2::<f32>().unwrap(), recon.to_vec2::<f32>().unwrap());
        }
        let fwd = sae.forward(x).unwrap();
        assert_eq!(fwd.dims(), want_recon.dims(), "{name}: forward keeps the input's shape");
        let e_fwd = assert_close(&fwd, want_recon, F32, &format!("{name}: forward"));

        // Sparse rows are exactly the dense nonzeros, ascending, without zeros.
        let sparse = sae.encode_sparse(x).unwrap();
        assert_eq!(sparse.to_dense().unwrap().to_vec2::<f32>().unwrap(), acts.to_vec2::<f32>().unwrap(), "{name}: sparse");
        for (fs, vs) in sparse.tokens() {
            assert!(fs.windows(2).all(|w| w[0] < w[1]) && vs.iter().all(|v| *v != 0.0), "{name}: CSR row");
        }

        // A scattered subset, out of order and with a repeat.
        let d_sae = sae.d_sae() as u32;
        let features: Vec<u32> = (0..d_sae).rev().step_by(3).chain([1, 1]).collect();
        let restricted = sae.encode_restricted(x, &features).unwrap();
        let idx = Tensor::from_slice(&features, features.len(), &Device::Cpu).unwrap();
        let columns = acts.index_select(&idx, 1).unwrap();
        assert_close(&restricted, &columns, RESTRICTED, &format!("{name}: restricted"));
        assert_eq!(active(&restricted), active(&columns), "{name}: restricted active set");

        let nnz = sparse.nnz() as f64 / sparse.n_tokens() as f64;
        report.push(format!("{name:52} acts {e_acts:.1e}  decode {e_recon:.1e}  forward {e_fwd:.1e}  l0 {nnz:.1}"));
        for (w, e) in worst.iter_mut().zip([e_acts, e_recon, e_fwd]) {
            *w = w.max(e);
        }
    }
    eprintln!("max|a−e|/rms(e) against SAELens {}:\n{}", c["versions"]["sae_lens"].as_str().unwrap_or("?"), report.join("\n"));
    eprintln!("worst: acts {:.1e}, decode {:.1e}, forward {:.1e}", worst[0], worst[1], worst[2]);
}
