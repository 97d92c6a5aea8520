//! `fingerprint`: known hashes, the memo, and invalidation.

use saex_cache::{fingerprint, MEMO_FILE};
use std::fs::{self, File};
use std::path::Path;
use std::time::{Duration, SystemTime};

// FIPS 180-2 / `printf abc | sha256sum`.
const SHA_ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
// `printf abd | sha256sum`.
const SHA_ABD: &str = "a52d159f262b2c6ddb724a61840befc36eb30c88877a4030b65cbe86298449c9";
// `printf abcd | sha256sum`.
const SHA_ABCD: &str = "88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589";

fn set_mtime(path: &Path, t: SystemTime) {
    File::options().write(true).open(path).unwrap().set_modified(t).unwrap();
}

fn memo_json(memo_dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(memo_dir.join(MEMO_FILE)).unwrap()).unwrap()
}

#[test]
fn file_fingerprint_is_sha256_of_its_bytes() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("model.bin");
    fs::write(&p, b"abc").unwrap();
    assert_eq!(fingerprint(&p, None).unwrap(), SHA_ABC);
    assert!(!d.path().join(MEMO_FILE).exists());
}

#[test]
fn memo_is_reused_and_invalidated_when_the_file_changes() {
    let d = tempfile::tempdir().unwrap();
    let memo = d.path().join("memo");
    let p = d.path().join("model.bin");
    fs::write(&p, b"abc").unwrap();
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    set_mtime(&p, t0);

    assert_eq!(fingerprint(&p, Some(&memo)).unwrap(), SHA_ABC);
    let canon = fs::canonicalize(&p).unwrap().to_string_lossy().into_owned();
    let json = memo_json(&memo);
    let entry = &json["entries"][&canon];
    assert_eq!(entry["sha256"], SHA_ABC);
    // One file: empty relative path, 3 bytes, 1_700_000_000 s = 1.7e18 ns.
    assert_eq!(entry["files"], serde_json::json!([{"path": "", "size": 3, "mtime_ns": 1_700_000_000_000_000_000u64}]));

    // A memo hit does not read the file: plant a fake hash and get it back.
    let fake = "f".repeat(64);
    let mut planted = json.clone();
    planted["entries"][&canon]["sha256"] = fake.clone().into();
    fs::write(memo.join(MEMO_FILE), serde_json::to_vec(&planted).unwrap()).unwrap();
    assert_eq!(fingerprint(&p, Some(&memo)).unwrap(), fake);

    // Same size, new mtime: re-hashed and the memo is updated.
    fs::write(&p, b"abd").unwrap();
    set_mtime(&p, t0 + Duration::from_nanos(1));
    assert_eq!(fingerprint(&p, Some(&memo)).unwrap(), SHA_ABD);
    assert_eq!(memo_json(&memo)["entries"][&canon]["sha256"], SHA_ABD);

    // Same mtime, new size: re-hashed.
    fs::write(&p, b"abcd").unwrap();
    set_mtime(&p, t0 + Duration::from_nanos(1));
    assert_eq!(fingerprint(&p, Some(&memo)).unwrap(), SHA_ABCD);

    // Reached through another spelling of the path: same canonical entry.
    let other = d.path().join(".").join("model.bin");
    assert_eq!(fingerprint(&other, Some(&memo)).unwrap(), SHA_ABCD);
    assert_eq!(memo_json(&memo)["entries"].as_object().unwrap().len(), 1);
}

#[test]
fn corrupt_memo_is_ignored_and_rewritten() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("model.bin");
    fs::write(&p, b"abc").unwrap();
    fs::write(d.path().join(MEMO_FILE), b"{\"version\": 1, \"entr").unwrap();
    assert_eq!(fingerprint(&p, Some(d.path())).unwrap(), SHA_ABC);
    let canon = fs::canonicalize(&p).unwrap().to_string_lossy().into_owned();
    assert_eq!(memo_json(d.path())["entries"][&canon]["sha256"], SHA_ABC);
}

#[test]
fn directory_fingerprint_changes_when_any_file_changes() {
    let d = tempfile::tempdir().unwrap();
    let memo = tempfile::tempdir().unwrap();
    let m = d.path().join("model");
    fs::create_dir_all(m.join("sub")).unwrap();
    fs::write(m.join("config.json"), b"{}").unwrap();
    fs::write(m.join("sub/weights.bin"), b"0123456789").unwrap();
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    set_mtime(&m.join("sub/weights.bin"), t0);

    let fp = |memo_dir: Option<&Path>| fingerprint(&m, memo_dir).unwrap();
    let base = fp(Some(memo.path()));
    assert_eq!(base.len(), 64);
    assert_eq!(fp(None), base);
    assert_eq!(fp(Some(memo.path())), base);

    // One byte of a nested file, same size, new mtime.
    fs::write(m.join("sub/weights.bin"), b"0123456780").unwrap();
    set_mtime(&m.join("sub/weights.bin"), t0 + Duration::from_secs(1));
    let changed = fp(Some(memo.path()));
    assert_ne!(changed, base);
    assert_eq!(fp(None), changed);

    // Restoring the bytes restores the fingerprint (it is of contents, not times).
    fs::write(m.join("sub/weights.bin"), b"0123456789").unwrap();
    assert_eq!(fp(Some(memo.path())), base);

    // A new file, and a rename, change it too.
    fs::write(m.join("extra.txt"), b"").unwrap();
    let added = fp(Some(memo.path()));
    assert_ne!(added, base);
    fs::rename(m.join("extra.txt"), m.join("extra2.txt")).unwrap();
    let renamed = fp(Some(memo.path()));
    assert_ne!(renamed, added);
    assert_ne!(renamed, base);
}

#[cfg(unix)]
#[test]
fn directory_symlinks_are_followed() {
    // A Hugging Face snapshot: symlinks into blobs/.
    let d = tempfile::tempdir().unwrap();
    let real = d.path().join("real");
    let snap = d.path().join("snap");
    let blobs = d.path().join("blobs");
    for dir in [&real, &snap, &blobs] {
        fs::create_dir(dir).unwrap();
    }
    fs::write(real.join("model.bin"), b"abc").unwrap();
    fs::write(blobs.join("1234"), b"abc").unwrap();
    std::os::unix::fs::symlink(blobs.join("1234"), snap.join("model.bin")).unwrap();
    // A cycle is walked once.
    std::os::unix::fs::symlink(&snap, snap.join("loop")).unwrap();
    let with_loop = fingerprint(&snap, None).unwrap();
    fs::remove_file(snap.join("loop")).unwrap();
    assert_eq!(fingerprint(&snap, None).unwrap(), fingerprint(&real, None).unwrap());
    assert_eq!(with_loop, fingerprint(&real, None).unwrap());
    // A dangling link is an error naming it.
    std::os::unix::fs::symlink(blobs.join("gone"), snap.join("tokenizer.json")).unwrap();
    let err = fingerprint(&snap, None).unwrap_err();
    assert!(err.to_string().contains("tokenizer.json"), "{err}");
}

/// `cargo test --release -p saex-cache -- --ignored --nocapture hash_speed`
#[test]
#[ignore = "writes 270 MB; measures hashing speed"]
fn hash_speed_270_mb() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("big.bin");
    let chunk: Vec<u8> = (0..1u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let mut f = File::create(&p).unwrap();
    for _ in 0..270 {
        std::io::Write::write_all(&mut f, &chunk).unwrap();
    }
    drop(f);
    fingerprint(&p, None).unwrap(); // warm the page cache
    let t = std::time::Instant::now();
    fingerprint(&p, None).unwrap();
    let secs = t.elapsed().as_secs_f64();
    eprintln!("270 MiB in {secs:.3} s = {:.2} GB/s", 270.0 * 1048576.0 / secs / 1e9);
    assert!(secs < 1.0, "{secs} s");
}
