//! A load client for `saex serve`: `clients` threads each POST bodies (JSONL, one body per
//! line, taken round-robin) over plain HTTP/1.1 on loopback and time every request.
//! Prints JSON: p50/p95/mean latency in ms, requests per second, errors.
//!
//!   cargo run --release -p saex-server --example load -- \
//!       --addr 127.0.0.1:8080 --path /v1/sae/features/discover --bodies bodies.jsonl --clients 8 --requests 64
//!
//! std only: a benchmark client should not share the server's HTTP stack.
#![allow(clippy::print_stdout)] // a benchmark's result is what it prints

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned().unwrap_or_else(|| default.to_string())
}

/// One request; returns the status code.
fn post(addr: &str, path: &str, body: &str) -> std::io::Result<u16> {
    let mut s = TcpStream::connect(addr)?;
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp)?;
    let head = String::from_utf8_lossy(&resp[..resp.len().min(32)]).to_string();
    Ok(head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0))
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let addr = arg(&args, "--addr", "127.0.0.1:8080");
    let path = arg(&args, "--path", "/v1/sae/features/discover");
    let clients: usize = arg(&args, "--clients", "8").parse().unwrap_or(8);
    let requests: usize = arg(&args, "--requests", "64").parse().unwrap_or(64);
    let bodies: Vec<String> = std::fs::read_to_string(arg(&args, "--bodies", "bodies.jsonl"))?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    if bodies.is_empty() {
        eprintln!("error: no bodies");
        std::process::exit(2);
    }
    let next = Arc::new(AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let errors = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (next, latencies, errors, bodies) = (next.clone(), latencies.clone(), errors.clone(), bodies.clone());
            let (addr, path) = (addr.clone(), path.clone());
            std::thread::spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests {
                    break;
                }
                let t = Instant::now();
                let ok = matches!(post(&addr, &path, &bodies[i % bodies.len()]), Ok(200));
                let ms = t.elapsed().as_secs_f64() * 1e3;
                if ok {
                    latencies.lock().map(|mut l| l.push(ms)).ok();
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().ok();
    }
    let wall = start.elapsed().as_secs_f64();
    let mut l = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    l.sort_by(f64::total_cmp);
    // Nearest-rank percentiles.
    let pct = |p: f64| if l.is_empty() { 0.0 } else { l[((p * l.len() as f64).ceil() as usize).clamp(1, l.len()) - 1] };
    let mean = if l.is_empty() { 0.0 } else { l.iter().sum::<f64>() / l.len() as f64 };
    println!(
        "{{\"clients\": {clients}, \"requests\": {requests}, \"ok\": {}, \"errors\": {}, \"min_ms\": {:.1}, \"p50_ms\": {:.1}, \"p95_ms\": {:.1}, \"max_ms\": {:.1}, \"mean_ms\": {:.1}, \"requests_per_s\": {:.2}}}",
        l.len(),
        errors.load(Ordering::Relaxed),
        l.first().copied().unwrap_or(0.0),
        pct(0.5),
        pct(0.95),
        l.last().copied().unwrap_or(0.0),
        mean,
        l.len() as f64 / wall
    );
    Ok(())
}
