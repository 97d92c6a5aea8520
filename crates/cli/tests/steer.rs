//! `saex steer` end to end: on the real Gemma 3 270M with the demo SAE (steering moves the
//! greedy text, coefficient 0 does not), on the tiny GPT-2 fixture (the human output), and
//! bad features (exit code 2, a one-line message naming the bad part).

use std::path::PathBuf;

mod common;
use common::{demo_sae, fails_with, gemma, saex};

use saex_engine::{SteerFeature, Steered};

fn root() -> PathBuf {
    saex_testutil::root()
}

/// `saex steer --json --compare` on Gemma 3 270M + the demo SAE, greedy.
fn steer_gemma(feature: &str, prompt: &str) -> Steered {
    let (model, sae) = (gemma(), demo_sae());
    let out = saex(&[
        "steer",
        "--model",
        &model,
        "--sae",
        &sae,
        "--feature",
        feature,
        "--prompt",
        prompt,
        "--max-tokens",
        "12",
        "--compare",
        "--json",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Feature 342 fires on `text` in LaTeX `\text…` commands (demo/README.md). Its decoder row
/// has norm ≈ 132 and the feature's largest activation on the corpus is ≈ 1.9, so +5 adds
/// ≈ 660 to a residual of norm ≈ 3,000: a strong push.
const MATH: &str = "The area of a circle is $A = \\pi r^2$, where";

#[test]
fn a_large_coefficient_changes_the_greedy_text_toward_the_feature() {
    let s = steer_gemma("342=+5", MATH);
    assert_eq!(s.hook, "blocks.6.hook_resid_pre");
    assert_eq!(s.features, [SteerFeature { feature_id: 342, coefficient: 5.0 }]);
    let baseline = s.baseline.as_deref().unwrap();
    assert_ne!(s.steered, baseline, "steering left the text unchanged");
    // Measured: baseline " $r$ is the radius of the circle. ...", steered " the length of
    // the text is. The text is to be read in the centre of the page. ..."
    assert!(s.steered.contains("text") && !baseline.contains("text"), "steered {:?}, baseline {baseline:?}", s.steered);
}

#[test]
fn coefficient_zero_is_the_baseline() {
    let s = steer_gemma("342=0", MATH);
    assert_eq!(Some(&s.steered), s.baseline.as_ref());
}

#[test]
fn a_feature_id_beyond_d_sae_is_named() {
    let (model, sae) = (gemma(), demo_sae());
    let out = saex(&["steer", "--model", &model, "--sae", &sae, "--feature", "5000=+8", "--prompt", "Hi"]);
    fails_with(&out, &["feature 5000", "d_sae 4096"]);
}

fn tiny() -> (String, String) {
    let model = root().join("fixtures/parity/tiny/gpt2");
    let sae = root().join("fixtures/models/tiny-gpt2-l1");
    (model.to_str().unwrap().to_string(), sae.to_str().unwrap().to_string())
}

#[test]
fn compare_labels_the_steered_and_the_baseline_text() {
    let (model, sae) = tiny();
    let out = saex(&[
        "steer",
        "--model",
        &model,
        "--sae",
        &sae,
        "--feature",
        "5=+20",
        "--feature",
        "9=-4",
        "--prompt",
        "People in Paris",
        "--max-tokens",
        "6",
        "--compare",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].contains("steered (5=+20, 9=-4 at blocks.1.hook_resid_pre)"), "{stdout}");
    assert!(lines.iter().any(|l| l.contains("baseline (no steering)")), "{stdout}");
    assert_eq!(stdout.matches("People in Paris").count(), 2, "{stdout}");
}

#[test]
fn malformed_features_are_named() {
    let (model, sae) = tiny();
    let run = |f: &str| saex(&["steer", "--model", &model, "--sae", &sae, "--feature", f, "--prompt", "x"]);
    // A hyphen-led value reaches our parser instead of being taken for a flag.
    fails_with(&run("-4"), &["`-4`", "FEATURE=COEFFICIENT"]);
    fails_with(&run("7=big"), &["`big`"]);
    fails_with(&run("x=1"), &["`x`"]);
    let out = saex(&["steer", "--model", &model, "--sae", &sae, "--feature", "3=1", "--feature", "3=2", "--prompt", "x"]);
    fails_with(&out, &["feature 3 is given twice"]);
}
