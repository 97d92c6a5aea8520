//! Helpers shared by the CLI test binaries that run the real model.
#![allow(dead_code)] // each test binary uses its own subset

use std::process::{Command, Output};

/// Run the `saex` binary.
pub fn saex(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_saex")).args(args).output().expect("run saex")
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
