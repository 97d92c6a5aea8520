//! `saex logit-stats` end to end on the tiny GPT-2 fixture: JSON, CSV and the table agree
//! with each other, the page opens in chromium with its plots and filter, and an SAE whose
//! decoder does not write the residual width is refused in one line.

mod common;

use common::{check_page, fails_with, saex};

fn tiny() -> String {
    saex_testutil::root().join("fixtures/parity/tiny/gpt2").to_str().unwrap().to_string()
}

fn sae() -> String {
    saex_testutil::root().join("fixtures/models/tiny-gpt2-l1").to_str().unwrap().to_string()
}

fn ok(o: std::process::Output) -> std::process::Output {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

#[test]
fn json_csv_table_and_page_agree() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("logits.html");
    let (m, s) = (tiny(), sae());
    let out = ok(saex(&["logit-stats", "--model", &m, "--sae", &s, "--json", "--html", page.to_str().unwrap()]));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let feats = r["features"].as_array().unwrap();
    assert_eq!(feats.len(), 128);
    assert_eq!(r["unembed"], "folded+centred");
    assert_eq!(r["types"].as_array().unwrap().iter().map(|t| t["count"].as_u64().unwrap()).sum::<u64>(), 128);
    for f in feats {
        assert!(f["mean"].as_f64().unwrap().abs() < 1e-4 * f["std"].as_f64().unwrap(), "centred W_U gives mean ~0: {f}");
        assert_eq!(f["boosted"].as_array().unwrap().len(), 10);
    }

    let csv = ok(saex(&["logit-stats", "--model", &m, "--sae", &s, "--features", "3,7", "--k", "4", "--csv", "--raw-unembed"]));
    let mut rd = csv::Reader::from_reader(&csv.stdout[..]);
    let rows: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(&rows[0][0], "3");
    let boosted: Vec<String> = serde_json::from_str(&rows[1][7]).unwrap();
    assert_eq!(boosted.len(), 4);
    let raw = ok(saex(&["logit-stats", "--model", &m, "--sae", &s, "--features", "3", "--raw-unembed", "--json"]));
    let raw: serde_json::Value = serde_json::from_slice(&raw.stdout).unwrap();
    assert_eq!(raw["unembed"], "raw");
    assert_ne!(raw["features"][0]["mean"], feats[3]["mean"], "raw and folded W_U give the same mean");

    let table = ok(saex(&["logit-stats", "--model", &m, "--sae", &s, "--features", "3"]));
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("1 features · W_U folded+centred · vocabulary 300") && text.contains("kurtosis is not excess"), "{text}");

    let report = check_page(&page, "logit_stats", &dir.path().join("logits.png"));
    assert!(report.contains("\"points\":128"), "{report}");
}

#[test]
fn an_sae_of_another_width_is_refused() {
    // An SAE on the MLP's hidden layer (128 wide) reads fine but its decoder does not write
    // the 64-wide residual the unembedding reads.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("mlp-sae");
    std::fs::create_dir(&d).unwrap();
    let cfg = serde_json::json!({ "d_in": 128, "d_sae": 16, "dtype": "float32", "architecture": "standard", "apply_b_dec_to_input": true,
        "normalize_activations": "none", "metadata": { "model_name": "tiny-gpt2", "hook_name": "blocks.0.mlp.hook_post" } });
    std::fs::write(d.join("cfg.json"), cfg.to_string()).unwrap();
    let t = |r: usize, c: usize| {
        candle_core::Tensor::ones(if c == 0 { vec![r] } else { vec![r, c] }, candle_core::DType::F32, &candle_core::Device::Cpu).unwrap()
    };
    let tensors = [("W_enc", t(128, 16)), ("W_dec", t(16, 128)), ("b_enc", t(16, 0)), ("b_dec", t(128, 0))];
    candle_core::safetensors::save(&tensors.into_iter().map(|(k, v)| (k.to_string(), v)).collect(), d.join("sae_weights.safetensors"))
        .unwrap();
    let out = saex(&["logit-stats", "--model", &tiny(), "--sae", d.to_str().unwrap(), "--hook", "blocks.0.mlp.hook_post"]);
    fails_with(&out, &["decoder writes 128 dimensions", "unembedding reads 64"]);
    let out = saex(&["logit-stats", "--model", &tiny(), "--sae", &sae(), "--features", "500"]);
    fails_with(&out, &["feature 500 is out of range (d_sae 128)"]);
}
