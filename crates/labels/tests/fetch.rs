//! `fetch::features` against a local server answering in Neuronpedia's shapes
//! (`GET /api/feature/{modelId}/{layer}/{index}`): the key header arrives, a 429 and a 500
//! are retried, a 404 is remembered, the cache holds no key, a re-run asks for nothing.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use saex_labels::fetch::{self, FetchOptions, Outcome};
use serde_json::json;

const KEY: &str = "sk-np-test-4f1c9e";

/// What the server saw.
#[derive(Default)]
struct Seen {
    /// Requests by path.
    hits: HashMap<String, usize>,
    /// Path and `x-api-key` of every request.
    keys: Vec<(String, Option<String>)>,
}

/// A Neuronpedia-shaped feature answer: explanations first-best, with the activations a real
/// answer carries (which the cache must not keep).
fn answer(model: &str, layer: &str, index: u32) -> String {
    json!({
        "modelId": model, "layer": layer, "index": index.to_string(), "maxActApprox": 12.5,
        "explanations": [
            {"id": format!("ex{index}"), "modelId": model, "layer": layer, "index": index.to_string(),
             "description": format!(" feature {index} fires on dates"), "typeName": "oai_token-act-pair",
             "explanationModelName": "gpt-4o-mini", "scores": [{"value": 0.61}], "triggeredByUserId": "u1"},
            {"id": "second", "description": "a worse one"}
        ],
        "activations": [{"tokens": ["a", "b"], "values": [0.0, 1.0], "maxValue": 1.0}]
    })
    .to_string()
}

fn respond(mut s: TcpStream, seen: &Mutex<Seen>) {
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut key = None;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).unwrap() == 0 || h == "\r\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("x-api-key") {
                key = Some(v.trim().to_string());
            }
        }
    }
    let n = {
        let mut g = seen.lock().unwrap();
        g.keys.push((path.clone(), key));
        let n = g.hits.entry(path.clone()).or_insert(0);
        *n += 1;
        *n
    };
    if path.starts_with("/api/explanation/export") {
        // The old bulk export: a redirect to a file on a storage host.
        let head = "HTTP/1.1 302 Found\r\nLocation: /files/export.json\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        let _ = s.write_all(head.as_bytes());
        return;
    }
    if path == "/files/export.json" {
        let body = json!([
            {"modelId": "m", "layer": "2-res", "index": "1", "description": "one", "scoreV1": 0.2},
            {"modelId": "m", "layer": "2-res", "index": "1", "description": "one, better", "scoreV1": 0.9},
            {"modelId": "m", "layer": "2-res", "index": "4", "description": "four"}
        ])
        .to_string();
        let head =
            format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
        let _ = s.write_all(head.as_bytes()).and_then(|()| s.write_all(body.as_bytes()));
        return;
    }
    let parts: Vec<&str> = path.trim_start_matches("/api/feature/").split('/').collect();
    let index: u32 = parts.get(2).and_then(|i| i.parse().ok()).unwrap_or(u32::MAX);
    let (status, extra, body) = match index {
        // Rate limited once, then fine.
        3 if n == 1 => ("429 Too Many Requests", "Retry-After: 0\r\n", r#"{"message":"slow down"}"#.to_string()),
        // A server error once, then fine.
        4 if n == 1 => ("502 Bad Gateway", "", "upstream".to_string()),
        // Not on Neuronpedia.
        5 => ("404 Not Found", "", r#"{"message":"not found"}"#.to_string()),
        // Known, no explanation.
        6 => ("200 OK", "", json!({"modelId": parts[0], "layer": parts[1], "index": "6", "explanations": []}).to_string()),
        i if i != u32::MAX => ("200 OK", "", answer(parts[0], parts[1], i)),
        _ => ("400 Bad Request", "", "bad path".to_string()),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
        body.len()
    );
    let _ = s.write_all(head.as_bytes()).and_then(|()| s.write_all(body.as_bytes()));
}

/// Serve on a free port; returns the base URL.
fn serve(seen: Arc<Mutex<Seen>>) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let seen = seen.clone();
            std::thread::spawn(move || respond(s, &seen));
        }
    });
    format!("http://{addr}")
}

fn opts(base: &str, cache: &Path) -> FetchOptions {
    FetchOptions {
        base_url: base.into(),
        api_key: Some(KEY.into()),
        concurrency: 8,
        rate: 0.0,
        retries: 3,
        backoff: Duration::from_millis(10),
        cache_dir: Some(cache.to_path_buf()),
        ..Default::default()
    }
}

fn all_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            all_files(&e.path(), out);
        } else {
            out.push(e.path());
        }
    }
}

#[test]
fn fetch_retries_caches_and_keeps_the_key_out_of_files() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let base = serve(seen.clone());
    let cache = tempfile::tempdir().unwrap();
    let id = "gemma-2-2b/6-gemmascope-res-16k";
    let features = [1, 2, 3, 4, 5, 6];
    let (got, stats) = fetch::features(id, &features, &opts(&base, cache.path())).unwrap();
    assert_eq!(got.iter().map(|(f, _)| *f).collect::<Vec<_>>(), features, "in the order asked");
    let by: HashMap<u32, Outcome> = got.into_iter().collect();
    let Outcome::Found(e) = &by[&3] else { panic!("{:?}", by[&3]) };
    assert_eq!(e.description, "feature 3 fires on dates", "the first explanation, trimmed");
    assert_eq!(e.extra["neuronpedia"]["scores"][0]["value"], 0.61);
    assert!(matches!(by[&4], Outcome::Found(_)), "the 502 was retried: {:?}", by[&4]);
    assert_eq!(by[&5], Outcome::NotFound);
    assert_eq!(by[&6], Outcome::NoExplanation);
    // 6 features, one 429 and one 502 retried: 8 requests, 2 retries.
    assert_eq!((stats.requests, stats.retries, stats.cached), (8, 2, 0));
    {
        let g = seen.lock().unwrap();
        assert_eq!(g.keys.len(), 8);
        assert!(g.keys.iter().all(|(_, k)| k.as_deref() == Some(KEY)), "x-api-key on every request");
        assert_eq!(g.hits["/api/feature/gemma-2-2b/6-gemmascope-res-16k/3"], 2);
    }
    // The cache: one file per feature, no key, no activations.
    let mut files = Vec::new();
    all_files(cache.path(), &mut files);
    assert_eq!(files.len(), 6, "{files:?}");
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        assert!(!text.contains(KEY), "{}: {text}", f.display());
        assert!(!text.contains("activations"), "{}: {text}", f.display());
    }
    // A re-run asks for nothing.
    let (again, stats) = fetch::features(id, &features, &opts(&base, cache.path())).unwrap();
    assert_eq!((stats.requests, stats.cached), (0, 6));
    assert_eq!(again.into_iter().collect::<HashMap<_, _>>(), by);
}

#[test]
fn throughput_against_a_local_server() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let base = serve(seen.clone());
    let cache = tempfile::tempdir().unwrap();
    let features: Vec<u32> = (100..600).collect();
    let t = Instant::now();
    let (got, stats) = fetch::features("m/0-res", &features, &opts(&base, cache.path())).unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert!(got.iter().all(|(_, o)| matches!(o, Outcome::Found(_))));
    assert_eq!(stats.requests, 500);
    eprintln!("500 features, 8 in flight, no rate limit: {secs:.2} s, {:.0} features/s", 500.0 / secs);
    // With a rate limit of 200/s, 100 requests take at least 99 intervals (0.495 s).
    let limited = FetchOptions { rate: 200.0, cache_dir: None, ..opts(&base, cache.path()) };
    let t = Instant::now();
    fetch::features("m/1-res", &features[..100], &limited).unwrap();
    let secs = t.elapsed().as_secs_f64();
    eprintln!("100 features at rate 200/s: {secs:.2} s");
    assert!(secs >= 0.49, "{secs}");
}

#[test]
fn a_refused_key_stops_the_run_and_is_not_echoed() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut echoed = String::new();
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                echoed.push_str(&h);
            }
            let body = format!("{{\"message\":\"invalid key\",\"echo\":{:?}}}", echoed);
            let head = format!("HTTP/1.1 401 Unauthorized\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = s.write_all(head.as_bytes()).and_then(|()| s.write_all(body.as_bytes()));
        }
    });
    let cache = tempfile::tempdir().unwrap();
    let err = fetch::features("m/0-res", &[1, 2, 3], &opts(&base, cache.path())).unwrap_err().to_string();
    assert!(err.contains("401") && err.contains("NEURONPEDIA_API_KEY"), "{err}");
    assert!(!err.contains(KEY), "key echoed: {err}");
}

#[test]
fn the_bulk_export_follows_one_redirect_without_the_key() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let base = serve(seen.clone());
    let cache = tempfile::tempdir().unwrap();
    let (got, stats) = fetch::export("m/2-res", &opts(&base, cache.path())).unwrap();
    let fetch::Export::Rows(bytes) = got else { panic!("{got:?}") };
    assert_eq!(saex_labels::neuronpedia::rows(&bytes).len(), 3);
    assert_eq!(stats.requests, 2);
    let g = seen.lock().unwrap();
    assert_eq!(g.keys[0].1.as_deref(), Some(KEY), "the key goes to Neuronpedia");
    assert_eq!(g.keys[1], ("/files/export.json".to_string(), None), "not to where it redirects");
}
