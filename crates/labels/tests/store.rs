//! The registry on disk under concurrent writers (threads and processes) and corruption.
//!
//! Processes: the test re-runs its own binary with `SAEX_LABELS_WRITER` set, so the writers
//! are separate processes taking the file lock, not threads sharing one.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use saex_labels::store::backup_path;
use saex_labels::{Entry, Error, Store};

const KEY: &str = "gemma-2-2b/6-gemmascope-res-16k";

/// Writer `w`'s `n` updates: each adds feature `w * n + i` and bumps a shared counter in
/// feature 0's `notes`, so a lost update shows as a missing feature or a short count.
fn write_many(dir: &Path, w: usize, n: usize) {
    let store = Store::new(dir);
    for i in 0..n {
        store
            .update(KEY, |reg| {
                let count: usize = reg.get(&0).map(|e| e.notes.parse().unwrap_or(0)).unwrap_or(0);
                reg.insert(0, Entry { name: "counter".into(), notes: (count + 1).to_string(), ..Default::default() });
                let f = 1 + (w * n + i) as u32;
                reg.insert(f, Entry { name: format!("w{w}-{i}"), ..Default::default() });
                Ok((true, ()))
            })
            .unwrap();
    }
}

fn check_all_there(dir: &Path, writers: usize, n: usize) {
    let reg = Store::new(dir).read(KEY).unwrap();
    assert_eq!(reg[&0].notes, (writers * n).to_string(), "lost updates");
    assert_eq!(reg.len(), 1 + writers * n);
    for w in 0..writers {
        for i in 0..n {
            assert_eq!(reg[&(1 + (w * n + i) as u32)].name, format!("w{w}-{i}"));
        }
    }
}

#[test]
fn writer_child() {
    // Only does something when run by `two_processes_lose_nothing`.
    if let (Ok(dir), Ok(w)) = (std::env::var("SAEX_LABELS_WRITER_DIR"), std::env::var("SAEX_LABELS_WRITER")) {
        write_many(Path::new(&dir), w.parse().unwrap(), N_PROCESS);
    }
}

const N_PROCESS: usize = 200;

#[test]
fn two_processes_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let t = Instant::now();
    let children: Vec<_> = (0..2)
        .map(|w| {
            Command::new(&exe)
                .args(["--exact", "writer_child", "--test-threads=1"])
                .env("SAEX_LABELS_WRITER_DIR", dir.path())
                .env("SAEX_LABELS_WRITER", w.to_string())
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    eprintln!("2 processes × {N_PROCESS} updates: {:.2} s", t.elapsed().as_secs_f64());
    check_all_there(dir.path(), 2, N_PROCESS);
    // The backup is the version before the last write: one update behind.
    let bak = saex_labels::store::read_file(&backup_path(&Store::new(dir.path()).path(KEY))).unwrap();
    assert_eq!(bak[&0].notes, (2 * N_PROCESS - 1).to_string());
}

#[test]
fn four_threads_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let n = 100;
    std::thread::scope(|s| {
        for w in 0..4 {
            let d = dir.path();
            s.spawn(move || write_many(d, w, n));
        }
    });
    check_all_there(dir.path(), 4, n);
}

#[test]
fn a_corrupt_file_is_refused_and_left_alone_with_its_backup() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path());
    let set =
        |f: u32, name: &str| store.update(KEY, |reg| Ok((reg.insert(f, Entry { name: name.into(), ..Default::default() }).is_none(), ())));
    set(1, "one").unwrap();
    set(2, "two").unwrap();
    let path = store.path(KEY);
    let broken = b"{\"1\": {\"name\": \"one\"},\n \"2\": {\"name\": tw";
    std::fs::write(&path, broken).unwrap();
    let bak_before = std::fs::read(backup_path(&path)).unwrap();

    let err = set(3, "three").unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("not a valid label registry") && msg.contains("line 2"), "{msg}");
    assert!(msg.contains(&backup_path(&path).display().to_string()), "names the backup: {msg}");
    assert_eq!(std::fs::read(&path).unwrap(), broken, "not overwritten");
    assert_eq!(std::fs::read(backup_path(&path)).unwrap(), bak_before, "backup kept as it was");
    assert!(store.read(KEY).is_err());
    // The backup is a good registry with the last good version but one.
    assert_eq!(saex_labels::store::read_file(&backup_path(&path)).unwrap().len(), 1);
}
