//! Every fuzz target briefly (the seeds, then 1,500 mutations each), and every input that
//! once crashed saex (`fuzz/regressions/TARGET/*`) replayed: each must be accepted or
//! refused with an error, never panic or answer 5xx. `scripts/fuzz.sh` runs the long
//! campaigns; this keeps their findings fixed.

use std::path::PathBuf;
use std::time::Duration;

use saex_fuzz::{fuzz, prepare, Config, Outcome};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn every_target_survives_a_short_run_and_its_regressions() {
    let scratch = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for name in saex_fuzz::names() {
        let t = prepare(name, &root(), &scratch.path().join(name)).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        assert!(!t.seeds.is_empty(), "{name} has seeds");
        let cfg = Config { execs: 1500, time: Some(Duration::from_secs(20)), seed: 1, max_len: 1 << 20, crashes: None };
        let r = fuzz(name, &t, &cfg, |_| {});
        assert!(r.execs >= 1500 || r.secs >= 19.0, "{name}: {} executions", r.execs);
        failures.extend(r.findings.iter().map(|f| format!("{name}: {}", f.message)));
        let dir = root().join("fuzz/regressions").join(name);
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let input = std::fs::read(e.path()).unwrap();
            if let Outcome::Finding(m) = t.run(&input) {
                failures.push(format!("{name}: regression {} is back: {m}", e.path().display()));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_seeds_of_every_target_are_read_without_error() {
    // A seed refused outright would fuzz nothing but the first check.
    let scratch = tempfile::tempdir().unwrap();
    for name in saex_fuzz::names() {
        let t = prepare(name, &root(), &scratch.path().join(name)).unwrap();
        let ok = t.seeds.iter().filter(|s| matches!(t.run(s), Outcome::Ok)).count();
        assert!(ok > 0, "{name}: none of its {} seeds loads", t.seeds.len());
    }
}
