//! A load client for Neuronpedia's routes of `saex serve`: `clients` threads, for `secs`
//! seconds, each sending in turn `POST /v1/activation/all`, `/v1/activation/topk-by-token`
//! and `/v1/steer/completion` (bodies as the Python client sends them, prompts rotating),
//! over plain HTTP/1.1 on loopback, timing every request. Prints JSON: per route the count,
//! errors (any status but 200, or a broken connection) and p50/p95/max latency in ms.
//!
//!   cargo run --release -p saex-server --example np_load -- \
//!       --addr 127.0.0.1:5002 --secret KEY --clients 50 --secs 60 [--model gemma-3-270m --source 6-saex-res-4k]
//!
//! std only: a benchmark client should not share the server's HTTP stack.
#![allow(clippy::print_stdout)] // a benchmark's result is what it prints

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned().unwrap_or_else(|| default.to_string())
}

/// One request; the status code (0: no HTTP answer).
fn post(addr: &str, path: &str, secret: &str, body: &str) -> std::io::Result<u16> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(300)))?;
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nX-SECRET-KEY: {secret}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp)?;
    let head = String::from_utf8_lossy(&resp[..resp.len().min(32)]).to_string();
    Ok(head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0))
}

const PROMPTS: [&str; 4] = [
    "The quick brown fox jumps over the lazy dog.",
    "The area of a circle is $A = \\pi r^2$, where r is the radius.",
    "def fibonacci(n):\n    return n if n < 2 else fibonacci(n - 1) + fibonacci(n - 2)",
    "Die Hauptstadt von Deutschland ist Berlin, und Paris ist die Hauptstadt Frankreichs.",
];

fn body(route: usize, i: usize, model: &str, source: &str) -> (&'static str, String) {
    let prompt = serde_json_string(PROMPTS[i % PROMPTS.len()]);
    let set = source.split_once('-').map_or(source, |s| s.1);
    match route {
        0 => (
            "/v1/activation/all",
            format!(
                r#"{{"prompt": {prompt}, "model": "{model}", "source_set": "{set}", "selected_sources": [], "sort_by_token_indexes": [], "ignore_bos": true, "num_results": 25}}"#
            ),
        ),
        1 => (
            "/v1/activation/topk-by-token",
            format!(r#"{{"prompt": {prompt}, "model": "{model}", "source": "{source}", "top_k": 5, "ignore_bos": true}}"#),
        ),
        _ => (
            "/v1/steer/completion",
            format!(
                r#"{{"prompt": {prompt}, "model": "{model}", "steer_method": "SIMPLE_ADDITIVE", "normalize_steering": false, "types": ["STEERED", "DEFAULT"], "features": [{{"model": "{model}", "source": "{source}", "index": {}, "strength": 3.0}}], "n_completion_tokens": 16, "temperature": 0.7, "strength_multiplier": 1, "freq_penalty": 0, "seed": {i}, "stream": false, "n_logprobs": 0}}"#,
                i % 4096
            ),
        ),
    }
}

/// A JSON string literal (the prompts above need only these escapes).
fn serde_json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let addr = arg(&args, "--addr", "127.0.0.1:5002");
    let secret = arg(&args, "--secret", "");
    let model = arg(&args, "--model", "gemma-3-270m");
    let source = arg(&args, "--source", "6-saex-res-4k");
    let clients: usize = arg(&args, "--clients", "50").parse().unwrap_or(50);
    let secs: u64 = arg(&args, "--secs", "60").parse().unwrap_or(60);
    let names = ["activation/all", "topk-by-token", "steer/completion"];
    // Per route: latencies of 200s, and errors.
    let stats = Arc::new(Mutex::new(vec![(Vec::<f64>::new(), 0usize); 3]));
    let end = Instant::now() + Duration::from_secs(secs);
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let (stats, addr, secret, model, source) = (stats.clone(), addr.clone(), secret.clone(), model.clone(), source.clone());
            std::thread::spawn(move || {
                let mut i = c;
                while Instant::now() < end {
                    let route = i % 3;
                    let (path, b) = body(route, i, &model, &source);
                    let t = Instant::now();
                    let ok = matches!(post(&addr, path, &secret, &b), Ok(200));
                    let ms = t.elapsed().as_secs_f64() * 1e3;
                    if let Ok(mut s) = stats.lock() {
                        if ok {
                            s[route].0.push(ms);
                        } else {
                            s[route].1 += 1;
                        }
                    }
                    i += 1;
                }
            })
        })
        .collect();
    for t in threads {
        t.join().ok();
    }
    let stats = stats.lock().map(|s| s.clone()).unwrap_or_default();
    let mut parts = Vec::new();
    for (name, (mut l, errors)) in names.iter().zip(stats) {
        l.sort_by(f64::total_cmp);
        let pct = |p: f64| if l.is_empty() { 0.0 } else { l[((p * l.len() as f64).ceil() as usize).clamp(1, l.len()) - 1] };
        parts.push(format!(
            "\"{name}\": {{\"ok\": {}, \"errors\": {errors}, \"p50_ms\": {:.1}, \"p95_ms\": {:.1}, \"max_ms\": {:.1}}}",
            l.len(),
            pct(0.5),
            pct(0.95),
            l.last().copied().unwrap_or(0.0)
        ));
    }
    println!("{{\"clients\": {clients}, \"secs\": {secs}, {}}}", parts.join(", "));
}
