//! A soak client for `saex serve`: `clients` threads for `secs` seconds, each cycling through
//! every route (the requests of `fuzz/seeds/http.txt`, one per route and method, with the
//! server's model, source and SAE ids filled in), and every 20th request a long generation
//! the client hangs up on after 300 ms (the server must cancel it, not run it for no one).
//! Prints JSON: per route the count, status classes and p50/p95/max latency in ms; errors are
//! broken connections and 5xx answers (503/504 counted apart: queue and time limits).
//!
//!   cargo run --release -p saex-server --example soak -- --addr 127.0.0.1:5002 --clients 50 \
//!       --secs 600 --requests fuzz/seeds/http.txt --model M --source S --set SET --sae SAE
//!
//! std only: a load client should not share the server's HTTP stack.
#![allow(clippy::print_stdout)] // its result is what it prints

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned().unwrap_or_else(|| default.to_string())
}

/// One request: (method, path, body).
type Req = (String, String, String);

/// Send `req`; the status (0: no HTTP answer). `hang_up`: close after that long instead.
fn send(addr: &str, req: &Req, hang_up: Option<Duration>) -> std::io::Result<u16> {
    let (method, path, body) = req;
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(300)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    if let Some(d) = hang_up {
        std::thread::sleep(d);
        return Ok(0); // dropped: the connection closes
    }
    let mut resp = Vec::new();
    s.read_to_end(&mut resp)?;
    let head = String::from_utf8_lossy(&resp[..resp.len().min(32)]).to_string();
    Ok(head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0))
}

#[derive(Default)]
struct Route {
    ms: Vec<f64>,
    classes: BTreeMap<String, u64>,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let addr = arg(&args, "--addr", "127.0.0.1:5002");
    let clients: usize = arg(&args, "--clients", "50").parse().expect("--clients");
    let secs: f64 = arg(&args, "--secs", "600").parse().expect("--secs");
    let text = std::fs::read_to_string(arg(&args, "--requests", "fuzz/seeds/http.txt"))
        .expect("--requests file")
        .replace("$MODEL", &arg(&args, "--model", ""))
        .replace("$SRC", &arg(&args, "--source", ""))
        .replace("$SET", &arg(&args, "--set", ""))
        .replace("$SAE", &arg(&args, "--sae", ""));
    let reqs: Vec<Req> = text
        .split("\n===\n")
        .filter_map(|r| {
            let r = r.trim();
            let (head, body) = r.split_once('\n').unwrap_or((r, ""));
            let (m, p) = head.split_once(' ')?;
            Some((m.to_string(), p.trim().to_string(), body.to_string()))
        })
        .collect();
    let long: Req = (
        "POST".into(),
        "/v1/sae/features/discover".into(),
        r#"{"prompt": "Write a long story about the sea.", "gen_tokens": 1000, "temperature": 1.0}"#.into(),
    );
    let stats: Arc<Mutex<BTreeMap<String, Route>>> = Arc::default();
    let hung_up = Arc::new(Mutex::new(0u64));
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let (addr, reqs, long, stats, hung_up) = (addr.clone(), reqs.clone(), long.clone(), stats.clone(), hung_up.clone());
            std::thread::spawn(move || {
                let mut i = c;
                while Instant::now() < end {
                    i += 1;
                    if i % 20 == 0 {
                        let _ = send(&addr, &long, Some(Duration::from_millis(300)));
                        *hung_up.lock().unwrap() += 1;
                        continue;
                    }
                    let req = &reqs[i % reqs.len()];
                    let t = Instant::now();
                    let class = match send(&addr, req, None) {
                        Ok(s @ (503 | 504)) => s.to_string(),
                        Ok(s) if (200..300).contains(&s) => "2xx".into(),
                        Ok(s) if (400..500).contains(&s) => format!("4xx ({s})"),
                        Ok(s) => format!("error ({s})"),
                        Err(e) => format!("error ({})", e.kind()),
                    };
                    let key = format!("{} {}", req.0, req.1.split('?').next().unwrap_or(""));
                    let mut st = stats.lock().unwrap();
                    let r = st.entry(key).or_default();
                    r.ms.push(t.elapsed().as_secs_f64() * 1e3);
                    *r.classes.entry(class).or_default() += 1;
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let pct = |v: &mut Vec<f64>, p: f64| {
        v.sort_by(f64::total_cmp);
        v.get(((v.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(0.0)
    };
    let mut routes = serde_json::Map::new();
    for (k, mut r) in std::mem::take(&mut *stats.lock().unwrap()) {
        let (p50, p95, max) = (pct(&mut r.ms, 0.5), pct(&mut r.ms, 0.95), pct(&mut r.ms, 1.0));
        routes.insert(k, serde_json::json!({"count": r.ms.len(), "classes": r.classes, "p50_ms": p50, "p95_ms": p95, "max_ms": max}));
    }
    let hung = *hung_up.lock().unwrap();
    println!("{}", serde_json::json!({"clients": clients, "secs": secs, "hung_up": hung, "routes": routes}));
}
