//! `Cache` end to end: round trip, damage detection, LRU eviction, the size cap, concurrency.

use saex_cache::{Cache, Key, Lookup};
use std::fs::{self, File};
use std::path::Path;
use std::time::{Duration, SystemTime};

/// Every entry file is a 48-byte header plus the payload.
const HEADER: u64 = 48;

fn key(s: &str) -> Key {
    Key::of(&[s.as_bytes()])
}

fn set_mtime(path: &Path, secs_ago: u64) {
    let t = SystemTime::now() - Duration::from_secs(secs_ago);
    File::options().write(true).open(path).unwrap().set_modified(t).unwrap();
}

fn assert_corrupt(got: Lookup, path: &Path, reason: &str) {
    match got {
        Lookup::Corrupt(msg) => {
            assert!(msg.contains(&path.display().to_string()), "{msg}");
            assert!(msg.contains(reason), "{msg}");
        }
        other => panic!("expected Corrupt({reason}), got {other:?}"),
    }
    assert!(!path.exists(), "damaged entry {} was not deleted", path.display());
}

#[test]
fn round_trip() {
    let d = tempfile::tempdir().unwrap();
    let c = Cache::open(d.path().join("new/dir"), 1 << 20).unwrap();
    assert_eq!(c.dir(), d.path().join("new/dir"));
    assert_eq!(c.get(&key("a")), Lookup::Miss);
    c.put(&key("a"), b"alpha").unwrap();
    c.put(&key("b"), b"").unwrap();
    assert_eq!(c.get(&key("a")), Lookup::Hit(b"alpha".to_vec()));
    assert_eq!(c.get(&key("b")), Lookup::Hit(vec![]));
    // Overwrite replaces.
    c.put(&key("a"), b"ALPHA!").unwrap();
    assert_eq!(c.get(&key("a")), Lookup::Hit(b"ALPHA!".to_vec()));
    // (48 + 6) + (48 + 0) = 102.
    assert_eq!(c.total_bytes(), 102);
    // A second handle on the same directory (another process) sees the same entries.
    let c2 = Cache::open(c.dir(), 1 << 20).unwrap();
    assert_eq!(c2.get(&key("a")), Lookup::Hit(b"ALPHA!".to_vec()));
    let hex = key("a").hex();
    assert_eq!(c.entry_path(&key("a")), c.dir().join(&hex[..2]).join(format!("{hex}.bin")));
    // No temp files left behind.
    let shard = c.entry_path(&key("a")).parent().unwrap().to_path_buf();
    assert!(fs::read_dir(shard).unwrap().flatten().all(|e| !e.file_name().to_string_lossy().ends_with(".tmp")));
}

#[test]
fn flipped_payload_byte_is_corrupt_then_miss() {
    let d = tempfile::tempdir().unwrap();
    let c = Cache::open(d.path(), 1 << 20).unwrap();
    c.put(&key("a"), b"hello world").unwrap();
    let p = c.entry_path(&key("a"));
    let mut bytes = fs::read(&p).unwrap();
    bytes[48 + 4] ^= 0x01; // 'o' → 'n'
    fs::write(&p, bytes).unwrap();
    assert_corrupt(c.get(&key("a")), &p, "checksum mismatch");
    assert_eq!(c.get(&key("a")), Lookup::Miss);
}

#[test]
fn truncated_file_is_corrupt() {
    let d = tempfile::tempdir().unwrap();
    let c = Cache::open(d.path(), 1 << 20).unwrap();
    c.put(&key("a"), b"hello world").unwrap();
    let p = c.entry_path(&key("a"));
    let bytes = fs::read(&p).unwrap();
    // 48 + 11 = 59 bytes; keep 48 + 5.
    fs::write(&p, &bytes[..53]).unwrap();
    assert_corrupt(c.get(&key("a")), &p, "truncated: 5 of 11");
    // Shorter than the header.
    c.put(&key("a"), b"hello world").unwrap();
    fs::write(&p, &bytes[..20]).unwrap();
    assert_corrupt(c.get(&key("a")), &p, "truncated header");
}

#[test]
fn wrong_magic_is_corrupt() {
    let d = tempfile::tempdir().unwrap();
    let c = Cache::open(d.path(), 1 << 20).unwrap();
    c.put(&key("a"), b"hello").unwrap();
    let p = c.entry_path(&key("a"));
    let mut bytes = fs::read(&p).unwrap();
    bytes[..8].copy_from_slice(b"SAEXC2\0\0");
    fs::write(&p, bytes).unwrap();
    assert_corrupt(c.get(&key("a")), &p, "bad magic");
    assert_eq!(c.get(&key("a")), Lookup::Miss);
}

#[test]
fn eviction_is_least_recently_used() {
    let d = tempfile::tempdir().unwrap();
    let payload = [7u8; 100];
    // Each entry is 48 + 100 = 148 bytes; the cap fits three.
    let c = Cache::open(d.path(), 3 * (HEADER + 100)).unwrap();
    for (name, age) in [("a", 300), ("b", 200), ("c", 100)] {
        c.put(&key(name), &payload).unwrap();
        // Explicit mtimes: the filesystem's clock granularity cannot tie them.
        set_mtime(&c.entry_path(&key(name)), age);
    }
    assert_eq!(c.total_bytes(), 444);
    // Using `a` makes `b` the least recently used.
    assert_eq!(c.get(&key("a")), Lookup::Hit(payload.to_vec()));
    c.put(&key("d"), &payload).unwrap();
    assert_eq!(c.get(&key("b")), Lookup::Miss);
    for name in ["a", "c", "d"] {
        assert_eq!(c.get(&key(name)), Lookup::Hit(payload.to_vec()), "{name}");
    }
    assert_eq!(c.total_bytes(), 444);
}

#[test]
fn eviction_makes_room_for_a_big_entry_and_keeps_it() {
    let d = tempfile::tempdir().unwrap();
    // Cap 400: a, b, c of 148 bytes don't all fit; after c, the oldest (a) goes.
    let c = Cache::open(d.path(), 400).unwrap();
    for (name, age) in [("a", 300), ("b", 200)] {
        c.put(&key(name), &[1u8; 100]).unwrap();
        set_mtime(&c.entry_path(&key(name)), age);
    }
    c.put(&key("c"), &[1u8; 100]).unwrap();
    assert_eq!(c.get(&key("a")), Lookup::Miss);
    assert_eq!(c.total_bytes(), 296);
    // 48 + 352 = 400 = the whole cap: everything else goes, the new entry stays,
    // even though its mtime is not the newest.
    c.put(&key("big"), &[2u8; 352]).unwrap();
    set_mtime(&c.entry_path(&key("big")), 1000);
    c.put(&key("big"), &[2u8; 352]).unwrap();
    assert_eq!(c.total_bytes(), 400);
    assert_eq!(c.get(&key("big")), Lookup::Hit(vec![2u8; 352]));
}

#[test]
fn entry_bigger_than_the_cap_is_not_stored() {
    let d = tempfile::tempdir().unwrap();
    let c = Cache::open(d.path(), 100).unwrap();
    c.put(&key("small"), b"x").unwrap();
    // 48 + 53 = 101 > 100.
    c.put(&key("big"), &[0u8; 53]).unwrap();
    assert_eq!(c.get(&key("big")), Lookup::Miss);
    // The existing entry was not evicted for it.
    assert_eq!(c.get(&key("small")), Lookup::Hit(b"x".to_vec()));
    assert_eq!(c.total_bytes(), 49);
    // 48 + 52 = 100 fits exactly (and evicts `small`).
    c.put(&key("fits"), &[0u8; 52]).unwrap();
    assert_eq!(c.get(&key("fits")), Lookup::Hit(vec![0u8; 52]));
    assert_eq!(c.total_bytes(), 100);
}

#[test]
fn concurrent_writers_of_one_key_never_tear() {
    let d = tempfile::tempdir().unwrap();
    let c = Cache::open(d.path(), 1 << 30).unwrap();
    let k = key("shared");
    // Different bytes per writer, so an interleaving would fail the checksum.
    let payloads = [vec![0xAAu8; 256 << 10], vec![0x55u8; 256 << 10]];
    let done = std::sync::atomic::AtomicUsize::new(0);
    let (mut hits, mut misses) = (0, 0);
    std::thread::scope(|s| {
        for p in &payloads {
            let (c, done) = (&c, &done);
            s.spawn(move || {
                for _ in 0..50 {
                    c.put(&k, p).unwrap();
                }
                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            });
        }
        while done.load(std::sync::atomic::Ordering::SeqCst) < 2 {
            match c.get(&k) {
                Lookup::Hit(b) => {
                    assert!(b == payloads[0] || b == payloads[1], "torn read");
                    hits += 1;
                }
                Lookup::Miss => misses += 1,
                Lookup::Corrupt(why) => panic!("corrupt during concurrent writes: {why}"),
            }
        }
    });
    assert!(hits + misses > 0);
    assert!(matches!(c.get(&k), Lookup::Hit(_)));
    assert_eq!(c.total_bytes(), HEADER + (256 << 10));
}

#[test]
fn clear_removes_entries_and_keeps_other_files() {
    let d = tempfile::tempdir().unwrap();
    let c = Cache::open(d.path(), 1 << 20).unwrap();
    c.put(&key("a"), b"1").unwrap();
    c.put(&key("b"), b"2").unwrap();
    fs::write(d.path().join("fingerprints.json"), b"{}").unwrap();
    c.clear().unwrap();
    assert_eq!(c.total_bytes(), 0);
    assert_eq!(c.get(&key("a")), Lookup::Miss);
    assert!(d.path().join("fingerprints.json").exists());
    // Still usable.
    c.put(&key("a"), b"1").unwrap();
    assert_eq!(c.get(&key("a")), Lookup::Hit(b"1".to_vec()));
}

#[test]
fn stale_temp_files_are_swept_fresh_ones_kept() {
    let d = tempfile::tempdir().unwrap();
    let c = Cache::open(d.path(), 1 << 20).unwrap();
    c.put(&key("a"), b"1").unwrap();
    let shard = c.entry_path(&key("a")).parent().unwrap().to_path_buf();
    let stale = shard.join(".dead.1.0.tmp");
    let fresh = shard.join(".busy.2.0.tmp");
    fs::write(&stale, b"partial").unwrap();
    fs::write(&fresh, b"partial").unwrap();
    set_mtime(&stale, 2 * 3600);
    // Temp files don't count towards the total (48 + 1).
    assert_eq!(c.total_bytes(), 49);
    assert!(!stale.exists());
    assert!(fresh.exists());
}

#[test]
fn open_error_names_the_path() {
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("plain-file");
    fs::write(&file, b"").unwrap();
    let err = Cache::open(file.join("sub"), 1).unwrap_err();
    assert!(err.to_string().contains(&file.join("sub").display().to_string()), "{err}");
}
