//! Helpers shared by the CLI test binaries that run the real model.
#![allow(dead_code)] // each test binary uses its own subset

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Output, Stdio};

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

/// A `saex serve` process on a free loopback port; killed when dropped, so a failed assert
/// leaks nothing.
pub struct Server {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `saex serve --addr 127.0.0.1:0 ARGS…` and wait until it listens.
pub fn serve(args: &[&str]) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_saex"))
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn saex serve");
    let mut server = Server { child, addr: String::new() };
    let mut stderr = BufReader::new(server.child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            panic!("saex serve exited before listening: {seen}");
        }
        if let Some(addr) = line.trim().strip_prefix("listening on http://") {
            server.addr = addr.to_string();
            break;
        }
        seen.push_str(&line);
    }
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    server
}

/// One HTTP/1.1 request with a raw body; the status and the JSON body.
pub fn http_raw(addr: &str, method: &str, path: &str, body: &[u8]) -> (u16, serde_json::Value) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("no end of headers");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut content = raw[split + 4..].to_vec();
    let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        content = dechunk(&content);
    }
    let v = serde_json::from_slice(&content).unwrap_or_else(|e| panic!("{status}: not JSON ({e}): {}", String::from_utf8_lossy(&content)));
    (status, v)
}

/// One HTTP/1.1 request; the status and the JSON body.
pub fn http(addr: &str, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
    http_raw(addr, method, path, body.as_bytes())
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[eol + 2 + size + 2..];
    }
}
