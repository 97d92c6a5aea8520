//! What `saex train` writes, SAELens reads and encodes identically: the reference was made by
//! `fixtures/models/gen_trained_check.py` with `SAE.load_from_disk` on a saex-trained SAE.

use std::path::PathBuf;

use candle_core::{Device, Tensor};

fn rel_err(a: &Tensor, e: &Tensor) -> f32 {
    saex_testutil::rel_err(a, e) as f32
}

#[test]
fn saelens_encodes_a_saex_trained_sae_as_saex_does() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/models");
    let sae = saex_sae::Sae::load(root.join("saex-trained-tiny").to_str().unwrap()).unwrap();
    let r = candle_core::safetensors::load(root.join("saex-trained-tiny.reference.safetensors"), &Device::Cpu).unwrap();
    for i in 0..3 {
        let x = &r[&format!("p{i}.input")];
        let acts = sae.encode(x).unwrap();
        let e = &r[&format!("p{i}.feature_acts")];
        assert!(rel_err(&acts, e) <= 1e-5, "p{i} acts: {:.2e}", rel_err(&acts, e));
        // Identical active sets.
        let on = |t: &Tensor| t.gt(0f32).unwrap().to_vec2::<u8>().unwrap();
        assert_eq!(on(&acts), on(e), "p{i} active sets");
        let recon = sae.decode(&acts).unwrap();
        assert!(rel_err(&recon, &r[&format!("p{i}.recon")]) <= 1e-5, "p{i} decode");
    }
}
