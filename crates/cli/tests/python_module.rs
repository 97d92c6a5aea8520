//! `import saex` end to end: builds the extension (scripts/setup-python-module.sh: a venv at
//! .venv-py, `maturin develop --release` into this target dir), runs tests/python/saex_py
//! (every method on Gemma 3 270M + the demo SAE, compared with this `saex` binary's
//! `--json`; bad input raises `saex.SaexError`), then runs the seed 001 notebook script top
//! to bottom.

use std::process::Command;

/// Run `cmd` in the workspace root; panic with `what`, the exit status and its output.
fn run_ok(cmd: &mut Command, what: &str) -> String {
    let out = cmd.current_dir(saex_testutil::root()).env("SAEX_BIN", env!("CARGO_BIN_EXE_saex")).output().expect(what);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{what} failed ({}):\n{stdout}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    stdout
}

#[test]
fn the_python_module() {
    let root = saex_testutil::root();
    // Fails here (not with an ImportError later) when python3, pip or the build is broken.
    run_ok(
        Command::new("bash").arg(root.join("scripts/setup-python-module.sh")),
        "scripts/setup-python-module.sh (python3 -m venv .venv-py; pip install maturin numpy pytest pandas scipy; maturin develop --release)",
    );
    let python = root.join(".venv-py/bin/python");
    let stdout = run_ok(
        Command::new(&python).args(["-m", "pytest", "tests/python/saex_py", "-q", "-p", "no:cacheprovider"]),
        "pytest tests/python/saex_py",
    );
    // Nothing skipped: pandas and scipy are in the venv, so `.to_pandas()` and CSR are tested.
    assert!(stdout.contains("passed") && !stdout.contains("failed") && !stdout.contains("skipped"), "{stdout}");
    let stdout = run_ok(Command::new(&python).arg("examples/notebooks/seed001_explore.py"), "examples/notebooks/seed001_explore.py");
    assert!(stdout.contains("Top features"), "{stdout}");
}
