//! `saex drift` end to end on the tiny fixtures (width 64, same hook names): a model against
//! itself agrees perfectly; GPT-2 against Llama gives a real comparison whose counts add up;
//! the page opens in chromium; bad prompts files fail on one line.

mod common;

use std::path::PathBuf;

use common::{check_page, fails_with, saex};

fn tiny(arch: &str) -> String {
    saex_testutil::root().join("fixtures/parity/tiny").join(arch).to_str().unwrap().to_string()
}

fn sae() -> String {
    saex_testutil::root().join("fixtures/models/tiny-gpt2-l1").to_str().unwrap().to_string()
}

fn prompts(dir: &std::path::Path) -> PathBuf {
    let p = dir.join("prompts.jsonl");
    let lines = [
        r#"{"text": "The quick brown fox jumps over the lazy dog."}"#,
        r#"{"text": "def add(a, b):\n    return a + b"}"#,
        "",
        r#"{"prompt": "Once upon a time", "return_top_x": 10}"#,
    ];
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    p
}

fn drift(a: &str, b: &str, prompts: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let sae = sae();
    let mut args = vec!["drift", "--model-a", a, "--model-b", b, "--sae", &sae, "--prompts", prompts.to_str().unwrap()];
    args.extend_from_slice(extra);
    saex(&args)
}

#[test]
fn a_model_against_itself_agrees_and_two_models_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let p = prompts(dir.path());
    let out = drift(&tiny("gpt2"), &tiny("gpt2"), &p, &["--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["prompts"].as_array().unwrap().len(), 3);
    assert_eq!(d["mean_spearman"], 1.0);
    assert_eq!(d["mean_overlap"], 1.0);
    for p in d["prompts"].as_array().unwrap() {
        assert!(p["gained"].as_array().unwrap().is_empty() && p["lost"].as_array().unwrap().is_empty(), "{p}");
    }

    let page = dir.path().join("drift.html");
    let out = drift(&tiny("gpt2"), &tiny("llama"), &p, &["--json", "--html", page.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for (i, p) in d["prompts"].as_array().unwrap().iter().enumerate() {
        let (shared, gained, lost) =
            (p["shared"].as_u64().unwrap(), p["gained"].as_array().unwrap().len() as u64, p["lost"].as_array().unwrap().len() as u64);
        let top = if i == 2 { 10 } else { 25 };
        assert!(shared + lost <= top && shared + gained <= top, "{p}");
        if let Some(r) = p["spearman"].as_f64() {
            assert!((-1.0..=1.0).contains(&r), "{p}");
        }
    }
    assert!(d["mean_spearman"].as_f64().unwrap() < 1.0, "two different models agree perfectly: {d}");
    let report = check_page(&page, "drift", &dir.path().join("drift.png"));
    assert!(report.contains("\"rows\":3"), "{report}");

    let table = drift(&tiny("gpt2"), &tiny("llama"), &p, &[]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("3 prompts · Spearman mean") && text.contains("most gained:"), "{text}");
}

#[test]
fn bad_prompts_fail_on_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.jsonl");
    std::fs::write(&p, "{\"text\": \"fine\"}\n{\"txt\": \"typo\"}\n").unwrap();
    fails_with(&drift(&tiny("gpt2"), &tiny("gpt2"), &p, &[]), &["bad.jsonl: line 2"]);
    std::fs::write(&p, "").unwrap();
    fails_with(&drift(&tiny("gpt2"), &tiny("gpt2"), &p, &[]), &["prompts"]);
    let wide = saex_testutil::root().join("demo/sae");
    let out = saex(&[
        "drift",
        "--model-a",
        &tiny("gpt2"),
        "--model-b",
        &tiny("gpt2"),
        "--sae",
        wide.to_str().unwrap(),
        "--prompts",
        prompts(dir.path()).to_str().unwrap(),
    ]);
    fails_with(&out, &["blocks.6.hook_resid_pre", "out of range"]);
}
