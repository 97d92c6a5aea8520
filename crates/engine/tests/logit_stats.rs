//! `logit_stats` against TransformerLens: `fixtures/logit_stats/gen.py` builds the tiny
//! GPT-2, Llama and Gemma 3 fixtures into TransformerLens with its default processing (what
//! seed 004 loads), takes `W_dec @ model.W_U` for the tiny SAE and computes seed 004's
//! moments, the top ± tokens and the types in float64 numpy; `raw` uses the stored
//! unembedding. saex must agree on every feature of every model, both ways.

use saex_engine::{logit_stats, LogitStatsRequest, Session, SessionOptions};
use serde_json::Value;

fn reference() -> Value {
    serde_json::from_slice(&std::fs::read(saex_testutil::root().join("fixtures/logit_stats/reference.json")).unwrap()).unwrap()
}

fn close(got: f64, want: f64, rel: f64, what: &str) {
    assert!((got - want).abs() <= rel * want.abs().max(1e-3), "{what}: saex {got}, TransformerLens {want}");
}

#[test]
fn moments_tokens_and_types_match_transformer_lens() {
    let r = reference();
    let sae = saex_testutil::root().join(r["sae"].as_str().unwrap()).to_str().unwrap().to_string();
    for (arch, m) in r["models"].as_object().unwrap() {
        let model = saex_testutil::root().join("fixtures/parity/tiny").join(arch);
        let s = Session::open(model.to_str().unwrap(), std::slice::from_ref(&sae), SessionOptions { logits: true, ..Default::default() })
            .unwrap();
        for (way, raw) in [("folded", false), ("raw", true)] {
            let want = &m[way];
            let got = logit_stats(&s, &LogitStatsRequest { raw_unembed: raw, k: 10, ..Default::default() }).unwrap();
            assert_eq!(got.vocab as u64, m["vocab"].as_u64().unwrap());
            assert_eq!(got.features.len(), want["std"].as_array().unwrap().len());
            for f in &got.features {
                let i = f.feature_id as usize;
                let at = |k: &str| want[k][i].as_f64().unwrap();
                let what = |k: &str| format!("{arch} {way} feature {i} {k}");
                // The mean is ~0 after centring: compare it on the std's scale.
                assert!((f.mean - at("mean")).abs() <= 1e-4 * at("std"), "{}: {} vs {}", what("mean"), f.mean, at("mean"));
                close(f.std, at("std"), 1e-4, &what("std"));
                assert!((f.skewness - at("skewness")).abs() < 1e-3, "{}: {} vs {}", what("skewness"), f.skewness, at("skewness"));
                close(f.kurtosis, at("kurtosis"), 1e-4, &what("kurtosis"));
                close(f.std_ratio, at("std_ratio"), 1e-4, &what("std_ratio"));
                let ids = |v: &[saex_engine::index_store::record::TokenValue]| v.iter().map(|t| u64::from(t.token_id)).collect::<Vec<_>>();
                let list = |k: &str| want[k][i].as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect::<Vec<_>>();
                assert_eq!(ids(&f.boosted), list("boosted"), "{}", what("boosted"));
                assert_eq!(ids(&f.suppressed), list("suppressed"), "{}", what("suppressed"));
                assert_eq!(f.kind.name(), want["type"][i].as_str().unwrap(), "{}", what("type"));
            }
        }
    }
}

#[test]
fn bad_requests_say_what_is_wrong() {
    let r = reference();
    let sae = saex_testutil::root().join(r["sae"].as_str().unwrap()).to_str().unwrap().to_string();
    let model = saex_testutil::root().join("fixtures/parity/tiny/gpt2");
    let s =
        Session::open(model.to_str().unwrap(), std::slice::from_ref(&sae), SessionOptions { logits: true, ..Default::default() }).unwrap();
    let err = |req: LogitStatsRequest| logit_stats(&s, &req).unwrap_err().to_string();
    assert!(err(LogitStatsRequest { features: Some(vec![128]), ..Default::default() }).contains("feature 128 is out of range (d_sae 128)"));
    assert!(err(LogitStatsRequest { features: Some(vec![]), ..Default::default() }).contains("at least one feature"));
    let no_logits = Session::open(model.to_str().unwrap(), std::slice::from_ref(&sae), SessionOptions::default()).unwrap();
    assert!(logit_stats(&no_logits, &LogitStatsRequest::default()).unwrap_err().to_string().contains("needs the whole model"));
}
