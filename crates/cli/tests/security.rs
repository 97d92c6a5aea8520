//! The server lets no one in: no request makes `saex serve` read or write a path outside the
//! files it was started with (path traversal tried in every field and path segment that
//! names a model, SAE, index or label set), the secret is checked on every route but
//! liveness, and neither the secret nor the Neuronpedia API key reaches its logs, even at
//! the most verbose level. On the tiny GPT-2 and its SAE, with the tiny index of
//! `fuzz/seeds/index`, so it runs in seconds.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};

use common::{http, serve};

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tiny() -> (String, String) {
    let r = root();
    (r.join("fixtures/parity/tiny/gpt2").display().to_string(), r.join("fixtures/models/tiny-gpt2-l1").display().to_string())
}

/// What a leaked `/etc/passwd` (or any file outside) would show.
fn assert_no_leak(what: &str, status: u16, v: &serde_json::Value) {
    let text = v.to_string();
    assert!(!text.contains("root:x:0:0") && !text.contains("/bin/bash"), "{what}: {status} leaks a file: {text}");
}

#[test]
fn no_request_reaches_a_path_the_server_was_not_started_with() {
    let (model, sae) = tiny();
    let reg = tempfile::tempdir().unwrap();
    let index = root().join("fuzz/seeds/index").display().to_string();
    let other_sae = root().join("fixtures/sae/saelens/standard").display().to_string();
    let s = serve(&["--model", &model, "--sae", &sae, "--index", &index, "--registry", reg.path().to_str().unwrap()]);
    let canary = std::env::temp_dir().join(format!("saex-security-canary-{}", std::process::id()));
    let canary_rel = format!("..%2F..%2F..%2F..%2F..%2F..%2F..%2F..{}", canary.display().to_string().replace('/', "%2F"));
    let traversals = ["../../../../../../../../etc/passwd", "/etc/passwd", "/etc", other_sae.as_str(), "~/.ssh/id_rsa", "..\\..\\windows"];
    let mut cases: Vec<(String, String, String)> = Vec::new();
    for t in traversals {
        let q = serde_json::to_string(t).unwrap();
        for (path, body) in [
            ("/v1/sae/map", format!(r#"{{"features": [1, 2, 3], "groups": {q}}}"#)),
            ("/v1/sae/map", format!(r#"{{"index": {q}, "top": 5}}"#)),
            ("/v1/sae/map", format!(r#"{{"features": [1, 2, 3], "sae_id": {q}}}"#)),
            ("/v1/sae/features/top", format!(r#"{{"text": "Hello", "sae_id": {q}}}"#)),
            ("/v1/sae/features/discover", format!(r#"{{"text": "Hello", "sae_id": {q}}}"#)),
            ("/v1/sae/features/highlight", format!(r#"{{"text": "Hello", "features": [1], "sae_id": {q}}}"#)),
            ("/v1/steer", format!(r#"{{"prompt": "Hi", "features": [{{"feature_id": 1, "coefficient": 2.0}}], "sae_id": {q}}}"#)),
            ("/v1/sae/logit-stats", format!(r#"{{"features": [1], "sae_id": {q}}}"#)),
            ("/v1/sae/neighbors", format!(r#"{{"feature": 1, "sae_id": {q}}}"#)),
            ("/v1/analysis/concept", format!(r#"{{"texts": ["import os"], "sae_id": {q}}}"#)),
            ("/v1/labels/auto", format!(r#"{{"features": [1], "sae_id": {q}}}"#)),
            ("/v1/tokenize", format!(r#"{{"text": "Hello", "model_id": {q}}}"#)),
            ("/v1/activation/single", format!(r#"{{"prompt": "Hello", "model": {q}, "source": {q}, "index": "1"}}"#)),
            ("/v1/util/sae-vector", format!(r#"{{"model": "x", "source": {q}, "index": 1}}"#)),
        ] {
            cases.push(("POST".into(), path.into(), body));
        }
        let seg = t.replace('/', "%2F");
        cases.push(("GET".into(), format!("/v1/features/{seg}/1"), String::new()));
        cases.push(("GET".into(), format!("/v1/features/{seg}/1/dashboard"), String::new()));
        cases.push(("GET".into(), format!("/v1/labels/{seg}"), String::new()));
        cases.push(("GET".into(), format!("/v1/labels/{seg}/1"), String::new()));
        cases.push(("PUT".into(), format!("/v1/labels/{seg}/1"), r#"{"name": "x"}"#.into()));
        cases.push(("POST".into(), format!("/v1/labels/{seg}"), r#"{"1": {"name": "x"}}"#.into()));
    }
    cases.push(("PUT".into(), format!("/v1/labels/{canary_rel}/1"), r#"{"name": "x"}"#.into()));
    cases.push(("GET".into(), "/v1/features/tiny-gpt2-l1/..%2F..%2Fmanifest.json".into(), String::new()));
    cases.push(("GET".into(), "/../../../../etc/passwd".into(), String::new()));
    for (method, path, body) in &cases {
        let (status, v) = http(&s.addr, method, path, body);
        let what = format!("{method} {path} {body}");
        assert!((400..500).contains(&status), "{what}: expected a 4xx, got {status}: {v}");
        assert_no_leak(&what, status, &v);
    }
    assert!(!canary.exists(), "a label write escaped the registry: {}", canary.display());
    // The registry holds nothing but what the loaded SAE's routes wrote (here: nothing).
    let written: Vec<_> = walk(reg.path());
    assert!(written.iter().all(|p| !p.ends_with(".json") || p.contains("saex-local")), "{written:?}");
    // And the legitimate forms still work: the server's own index by name, the loaded SAE.
    let (status, v) = http(&s.addr, "POST", "/v1/sae/map", r#"{"index": "server", "top": 8, "method": "pca"}"#);
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["points"].as_array().map(Vec::len), Some(8), "{v}");
    assert!(cases.len() > 100, "{} traversal attempts", cases.len());
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path().display().to_string());
        }
    }
    out
}

#[test]
fn the_secret_guards_every_route_and_no_secret_is_logged() {
    let (model, sae) = tiny();
    let secret = "s3cret-0f-the-test-Zq81";
    let api_key = "np-api-key-of-the-test-Kx77";
    let mut child = Command::new(env!("CARGO_BIN_EXE_saex"))
        .args(["serve", "--addr", "127.0.0.1:0", "--model", &model, "--sae", &sae, "--secret-env", "SAEX_TEST_SECRET"])
        .args(["--neuronpedia-url", "http://127.0.0.1:9"])
        .env("SAEX_TEST_SECRET", secret)
        .env("NEURONPEDIA_API_KEY", api_key)
        .env("RUST_LOG", "trace")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    // Killed however the test ends (a failed assertion must not leave a server behind).
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = Kill(child);
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        let mut announced = false;
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&all).to_string();
            if !announced {
                // Only whole lines: a read can end in the middle of the address.
                let whole = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
                if let Some(addr) = whole.lines().find_map(|l| l.trim().strip_prefix("listening on http://")) {
                    let _ = tx.send(addr.to_string());
                    announced = true;
                }
            }
        }
        String::from_utf8_lossy(&all).to_string()
    });
    let addr = rx.recv_timeout(std::time::Duration::from_secs(60)).expect("the server listens");
    let call = |path: &str, key: Option<&str>, body: &str| -> u16 {
        use std::io::Write;
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        let auth = key.map(|k| format!("X-SECRET-KEY: {k}\r\n")).unwrap_or_default();
        write!(s, "POST {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
            .unwrap();
        let mut raw = String::new();
        let _ = s.read_to_string(&mut raw);
        raw.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
    };
    let routes = ["/v1/sae/features/top", "/v1/tokenize", "/v1/labels/auto", "/v1/explain/fetch", "/v1/activation/all"];
    for r in routes {
        assert_eq!(call(r, None, "{}"), 401, "{r} without the secret");
        assert_eq!(call(r, Some("s3cret-0f-the-test-Zq80"), "{}"), 401, "{r} with a near miss");
        assert_eq!(call(r, Some(&secret[..10]), "{}"), 401, "{r} with a prefix");
    }
    assert_eq!(call("/v1/sae/features/top", Some(secret), r#"{"text": "Hello world", "k": 3}"#), 200);
    // The fetch sends the API key to a port nothing listens on: the report lists the failure.
    let fetched = call("/v1/explain/fetch", Some(secret), r#"{"features": [1]}"#);
    assert!(fetched < 500, "explain fetch to a dead address: {fetched}");
    let _ = child.0.kill();
    let _ = child.0.wait();
    let log = reader.join().unwrap();
    assert!(log.contains("request"), "trace logging was on: {log}");
    assert!(!log.contains(secret) && !log.contains(&secret[..10]), "the secret is in the log:\n{log}");
    assert!(!log.contains(api_key), "the API key is in the log:\n{log}");
}

/// `--route-limit`: a route's own body limit through the real CLI (413 there, not on another
/// route); a malformed limit or an unknown route fails before the model loads.
#[test]
fn route_limits_from_the_command_line() {
    let (model, sae) = tiny();
    let s = serve(&["--model", &model, "--sae", &sae, "--route-limit", "/v1/tokenize:body-kb=1,timeout-secs=30"]);
    // Valid JSON over 1 KiB (padded with whitespace): too large for tokenize only.
    let pad = " ".repeat(2000);
    let (status, v) = http(&s.addr, "POST", "/v1/tokenize", &format!(r#"{{"text": "Hello world"{pad}}}"#));
    assert_eq!(status, 413, "{v}");
    let (status, v) = http(&s.addr, "POST", "/v1/sae/features/top", &format!(r#"{{"text": "Hello world", "k": 3{pad}}}"#));
    assert_eq!(status, 200, "{v}");
    for (limit, needle) in
        [("/v1/steer:speed=3", "unknown limit \"speed\""), ("/v1/nope:concurrent=1", "no such route"), ("/v1/steer", "expected PATH:KEY=N")]
    {
        let out = Command::new(env!("CARGO_BIN_EXE_saex"))
            .args(["serve", "--model", "/nonexistent/model.gguf", "--sae", &sae, "--route-limit", limit])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{limit}: {err}");
        assert!(err.contains(needle) && !err.contains("nonexistent"), "{limit}: {err}");
    }
}
