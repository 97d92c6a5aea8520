//! Helpers shared by the CLI test binaries that run the real model.
#![allow(dead_code)] // each test binary uses its own subset

use std::process::{Command, Output};

/// Run the `saex` binary, with an empty label registry of its own (never the user's, whose
/// labels would change what the verbs show).
pub fn saex(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_saex")).env("SAEX_LABELS_DIR", empty_registry()).args(args).output().expect("run saex")
}

/// A registry directory nothing writes to, for the whole test binary.
pub fn empty_registry() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("saex-test-empty-registry-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("make an empty registry directory");
        d
    })
}

/// Asserts a clean failure: exit code 2, one error line on stderr (besides `warning:`
/// lines) containing every `needle`.
pub fn fails_with(out: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    let errors = stderr.trim_end().lines().filter(|l| !l.starts_with("warning:")).count();
    assert_eq!(errors, 1, "not one line: {stderr}");
    for n in needles {
        assert!(stderr.contains(n), "{n:?} not in: {stderr}");
    }
}

/// The real Gemma 3 270M GGUF.
pub fn gemma() -> String {
    saex_testutil::real_model("gemma-3-270m-q4_k_m.gguf").to_str().unwrap().to_string()
}

/// The demo SAE directory.
pub fn demo_sae() -> String {
    saex_testutil::root().join("demo/sae").to_str().unwrap().to_string()
}

/// Open `page` in headless chromium (tests/browser/check.mjs): no console error, no network,
/// the interactions of `kind` work; the screenshot goes to `shot`. Needs
/// `scripts/setup-browser.sh` once per machine; without it the test fails saying so.
pub fn check_page(page: &std::path::Path, kind: &str, shot: &std::path::Path) -> String {
    let root = saex_testutil::root();
    let script = root.join("tests/browser/check.mjs");
    assert!(
        root.join("tests/browser/node_modules/playwright-core").is_dir(),
        "page tests need chromium and playwright-core: run scripts/setup-browser.sh"
    );
    let out = Command::new("node").arg(&script).arg(page).arg(kind).arg(shot).output().expect("run node (scripts/setup-browser.sh)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}: {stderr}", page.display());
    String::from_utf8_lossy(&out.stdout).into_owned()
}
