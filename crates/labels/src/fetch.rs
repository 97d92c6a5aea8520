//! Neuronpedia's API, as the seeds call it:
//!
//! - per feature (seed 000): `GET {base}/api/feature/{modelId}/{layer}/{index}`, the first of
//!   `explanations`; many at once on a bounded pool of threads, under a shared rate limit,
//!   retried with backoff on 429 (honouring `Retry-After`), 5xx and broken connections;
//! - the bulk export (seed 004): `GET {base}/api/explanation/export?modelId=…&saeId=…`, a
//!   JSON array of explanation rows. Neuronpedia has since retired it (it answers 400 with a
//!   `message` pointing at its datasets); [`export`] reports that as [`Export::Gone`].
//!
//! The API key goes in the `x-api-key` header and nowhere else: not in URLs, the cache,
//! messages or logs (any message quoting a server's answer has the key scrubbed).
//!
//! Answers are cached on disk, one file per feature holding only the `explanations` array
//! (a feature answer also carries activations, hundreds of kilobytes), and a feature
//! Neuronpedia does not have (404) is remembered too, so a re-run asks for nothing it has.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::entry::Entry;
use crate::error::{Error, Result};
use crate::neuronpedia::from_feature_answer;
use crate::store::file_key;

/// Neuronpedia.
pub const DEFAULT_BASE_URL: &str = "https://www.neuronpedia.org";

/// The environment variable holding the API key.
pub const API_KEY_ENV: &str = "NEURONPEDIA_API_KEY";

/// How to fetch.
#[derive(Clone)]
pub struct FetchOptions {
    /// Scheme and host (`https://www.neuronpedia.org`), no trailing `/api`.
    pub base_url: String,
    /// Sent as `x-api-key` when set.
    pub api_key: Option<String>,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Requests started per second, over all threads (0: no limit).
    pub rate: f64,
    /// Retries of one request after a 429, a 5xx or a broken connection.
    pub retries: u32,
    /// First backoff; doubled each retry (a `Retry-After` header overrides it, capped at 60 s).
    pub backoff: Duration,
    /// Time limit of one request.
    pub timeout: Duration,
    /// Where answers are cached (`None`: no cache).
    pub cache_dir: Option<PathBuf>,
}

impl std::fmt::Debug for FetchOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchOptions")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("concurrency", &self.concurrency)
            .field("rate", &self.rate)
            .field("retries", &self.retries)
            .field("cache_dir", &self.cache_dir)
            .finish()
    }
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            base_url: DEFAULT_BASE_URL.into(),
            api_key: None,
            concurrency: 8,
            rate: 10.0,
            retries: 5,
            backoff: Duration::from_millis(500),
            timeout: Duration::from_secs(30),
            cache_dir: None,
        }
    }
}

/// What came of one feature.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Its first explanation.
    Found(Entry),
    /// Neuronpedia has the feature but no explanation of it.
    NoExplanation,
    /// Neuronpedia does not have the feature (404).
    NotFound,
    /// Gave up (the last error).
    Failed(String),
}

/// Counters of a fetch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FetchStats {
    /// HTTP requests sent (retries included).
    pub requests: u64,
    /// Of which retries.
    pub retries: u64,
    /// Features answered from the cache.
    pub cached: u64,
    /// Wall time.
    pub seconds: f64,
}

struct Limiter {
    interval: Option<Duration>,
    next: Mutex<Instant>,
}

impl Limiter {
    fn new(rate: f64) -> Limiter {
        let interval = (rate > 0.0 && rate.is_finite()).then(|| Duration::from_secs_f64(1.0 / rate));
        Limiter { interval, next: Mutex::new(Instant::now()) }
    }

    /// Wait for this request's slot.
    fn wait(&self) {
        let now = Instant::now();
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            let slot = (*next).max(now);
            *next = slot + self.interval.unwrap_or_default();
            slot
        };
        if slot > now {
            std::thread::sleep(slot - now);
        }
    }

    /// Nobody starts before `until` (a 429's `Retry-After` holds for every thread).
    fn hold(&self, until: Instant) {
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        if *next < until {
            *next = until;
        }
    }
}

fn agent(opts: &FetchOptions) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(opts.timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .user_agent(concat!("saex/", env!("CARGO_PKG_VERSION")))
        .build();
    ureq::Agent::new_with_config(config)
}

/// Remove the key from a message (a server could echo a header back).
fn scrub(msg: String, key: Option<&str>) -> String {
    match key {
        Some(k) if !k.is_empty() => msg.replace(k, "***"),
        _ => msg,
    }
}

struct Answer {
    status: u16,
    retry_after: Option<Duration>,
    location: Option<String>,
    body: Vec<u8>,
}

fn get(agent: &ureq::Agent, url: &str, key: Option<&str>) -> std::result::Result<Answer, String> {
    let mut req = agent.get(url);
    if let Some(k) = key {
        req = req.header("x-api-key", k);
    }
    let mut resp = req.call().map_err(|e| e.to_string())?;
    let header = |n: &str| resp.headers().get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
    let retry_after = header("retry-after").and_then(|s| s.trim().parse::<f64>().ok()).map(|s| Duration::from_secs_f64(s.clamp(0.0, 60.0)));
    let location = header("location");
    let status = resp.status().as_u16();
    let body = resp.body_mut().with_config().limit(256 << 20).read_to_vec().map_err(|e| e.to_string())?;
    Ok(Answer { status, retry_after, location, body })
}

fn snippet(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    let s = s.trim();
    let cut: String = s.chars().take(200).collect();
    if cut.len() < s.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

/// Split `modelId/layer`.
pub fn split_id(neuronpedia_id: &str) -> Result<(&str, &str)> {
    match neuronpedia_id.split_once('/') {
        Some((m, l)) if !m.is_empty() && !l.is_empty() && !l.contains('/') => Ok((m, l)),
        _ => Err(Error::field("neuronpedia_id", format!("{neuronpedia_id:?} is not a Neuronpedia id (modelId/layer)"))),
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// Fetch each of `features` of SAE `neuronpedia_id` (`modelId/layer`), in the order given.
pub fn features(neuronpedia_id: &str, features: &[u32], opts: &FetchOptions) -> Result<(Vec<(u32, Outcome)>, FetchStats)> {
    let (model, layer) = split_id(neuronpedia_id)?;
    let base = opts.base_url.trim_end_matches('/');
    if !base.starts_with("http://") && !base.starts_with("https://") {
        return Err(Error::field("base_url", format!("{base:?} is not an http(s) URL")));
    }
    if base.starts_with("https://") && !cfg!(feature = "https") {
        return Err(Error::field("base_url", "this saex was built without TLS (cargo feature `https`); use an http:// URL"));
    }
    let key = opts.api_key.as_deref().filter(|k| !k.is_empty());
    let cache = opts.cache_dir.as_ref().map(|d| d.join(file_key(neuronpedia_id)));
    if let Some(c) = &cache {
        std::fs::create_dir_all(c).map_err(|e| Error::file(c, e))?;
    }
    let started = Instant::now();
    let agent = agent(opts);
    let limiter = Limiter::new(opts.rate);
    let next = AtomicUsize::new(0);
    let (requests, retries, cached) = (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    let abort = AtomicBool::new(false);
    let fatal: Mutex<Option<String>> = Mutex::new(None);
    let results: Mutex<Vec<(usize, Outcome)>> = Mutex::new(Vec::with_capacity(features.len()));

    let one = |f: u32| -> Outcome {
        let cache_file = cache.as_ref().map(|c| c.join(format!("{f}.json")));
        if let Some(v) = cache_file.as_ref().and_then(|p| std::fs::read(p).ok()).and_then(|b| serde_json::from_slice::<Value>(&b).ok()) {
            cached.fetch_add(1, Ordering::Relaxed);
            return outcome_of_cached(&v);
        }
        let url = format!("{base}/api/feature/{}/{}/{f}", encode(model), encode(layer));
        let mut last = String::new();
        for attempt in 0..=opts.retries {
            if abort.load(Ordering::Relaxed) {
                return Outcome::Failed("not attempted: the run stopped".into());
            }
            if attempt > 0 {
                retries.fetch_add(1, Ordering::Relaxed);
            }
            limiter.wait();
            requests.fetch_add(1, Ordering::Relaxed);
            let backoff = opts.backoff.saturating_mul(1 << attempt.min(10));
            match get(&agent, &url, key) {
                Ok(a) if a.status == 200 => {
                    let Ok(v) = serde_json::from_slice::<Value>(&a.body) else {
                        last = format!("{url}: 200 but not JSON: {}", snippet(&a.body));
                        std::thread::sleep(backoff);
                        continue;
                    };
                    let trimmed = json!({"explanations": v.get("explanations").cloned().unwrap_or(Value::Array(vec![]))});
                    store_cached(cache_file.as_ref(), &trimmed);
                    return outcome_of_cached(&trimmed);
                }
                Ok(a) if a.status == 404 => {
                    store_cached(cache_file.as_ref(), &json!({"explanations": [], "not_found": true}));
                    return Outcome::NotFound;
                }
                Ok(a) if a.status == 401 || a.status == 403 => {
                    let msg = format!(
                        "Neuronpedia refused the request ({}{}): {}",
                        a.status,
                        if key.is_some() { "; check NEURONPEDIA_API_KEY" } else { "; set NEURONPEDIA_API_KEY" },
                        snippet(&a.body)
                    );
                    *fatal.lock().unwrap_or_else(|p| p.into_inner()) = Some(msg.clone());
                    abort.store(true, Ordering::Relaxed);
                    return Outcome::Failed(msg);
                }
                Ok(a) if a.status == 429 || a.status >= 500 => {
                    last = format!("{url}: {} {}", a.status, snippet(&a.body));
                    let wait = a.retry_after.unwrap_or(backoff);
                    if a.status == 429 {
                        limiter.hold(Instant::now() + wait);
                    } else {
                        std::thread::sleep(wait);
                    }
                }
                Ok(a) => return Outcome::Failed(format!("{url}: {} {}", a.status, snippet(&a.body))),
                Err(e) => {
                    last = format!("{url}: {e}");
                    std::thread::sleep(backoff);
                }
            }
        }
        Outcome::Failed(format!("{last} (gave up after {} retries)", opts.retries))
    };

    let workers = opts.concurrency.clamp(1, 64).min(features.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&f) = features.get(i) else { break };
                let o = match one(f) {
                    Outcome::Failed(m) => Outcome::Failed(scrub(m, key)),
                    o => o,
                };
                results.lock().unwrap_or_else(|p| p.into_inner()).push((i, o));
            });
        }
    });
    if let Some(m) = fatal.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(Error::Fetch(scrub(m, key)));
    }
    let mut r = results.into_inner().unwrap_or_else(|p| p.into_inner());
    r.sort_by_key(|(i, _)| *i);
    let stats = FetchStats {
        requests: requests.into_inner(),
        retries: retries.into_inner(),
        cached: cached.into_inner(),
        seconds: started.elapsed().as_secs_f64(),
    };
    Ok((r.into_iter().map(|(i, o)| (features[i], o)).collect(), stats))
}

fn outcome_of_cached(v: &Value) -> Outcome {
    if v.get("not_found").and_then(Value::as_bool) == Some(true) {
        return Outcome::NotFound;
    }
    from_feature_answer(v).map(Outcome::Found).unwrap_or(Outcome::NoExplanation)
}

fn store_cached(path: Option<&PathBuf>, v: &Value) {
    if let Some(p) = path {
        let tmp = p.with_extension(format!("{}.tmp", std::process::id()));
        // A cache write that fails only costs a refetch next time.
        if std::fs::write(&tmp, v.to_string()).is_ok() && std::fs::rename(&tmp, p).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

/// What the bulk export answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Export {
    /// The export's bytes (a JSON array of explanation rows).
    Rows(Vec<u8>),
    /// The endpoint is gone or has no export of this SAE: Neuronpedia's message.
    Gone(String),
}

/// Seed 004's bulk export of SAE `neuronpedia_id`, following one redirect (without the key:
/// the old endpoint redirected to a file on another host). Cached like the features.
pub fn export(neuronpedia_id: &str, opts: &FetchOptions) -> Result<(Export, FetchStats)> {
    let (model, layer) = split_id(neuronpedia_id)?;
    let key = opts.api_key.as_deref().filter(|k| !k.is_empty());
    let cache = opts.cache_dir.as_ref().map(|d| d.join(file_key(neuronpedia_id)).join("export.json"));
    let started = Instant::now();
    let mut stats = FetchStats::default();
    if let Some(b) = cache.as_ref().and_then(|p| std::fs::read(p).ok()) {
        stats.cached = 1;
        return Ok((Export::Rows(b), stats));
    }
    let base = opts.base_url.trim_end_matches('/');
    let agent = agent(opts);
    let mut url = format!("{base}/api/explanation/export?modelId={}&saeId={}", encode(model), encode(layer));
    let mut send_key = key;
    // One redirect at most (the key stays behind); a second is an answer like any other.
    let mut redirected = false;
    let mut last = String::new();
    let mut attempt = 0;
    while attempt <= opts.retries {
        stats.requests += 1;
        let backoff = opts.backoff.saturating_mul(1 << attempt.min(10));
        match get(&agent, &url, send_key) {
            Ok(a) if a.status == 200 => {
                if let Some(p) = &cache {
                    if let Some(d) = p.parent() {
                        let _ = std::fs::create_dir_all(d);
                    }
                    let _ = std::fs::write(p, &a.body);
                }
                stats.seconds = started.elapsed().as_secs_f64();
                return Ok((Export::Rows(a.body), stats));
            }
            Ok(a) if (300..400).contains(&a.status) && a.location.is_some() && !redirected => {
                redirected = true;
                let to = a.location.unwrap_or_default();
                // A path-only Location is on the same host.
                url = if to.starts_with('/') { format!("{base}{to}") } else { to };
                send_key = None;
                continue;
            }
            Ok(a) if a.status == 400 || a.status == 404 || a.status == 410 => {
                let v: Value = serde_json::from_slice(&a.body).unwrap_or(Value::Null);
                let msg = v.get("message").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| snippet(&a.body));
                stats.seconds = started.elapsed().as_secs_f64();
                return Ok((Export::Gone(scrub(format!("{} {msg}", a.status), key)), stats));
            }
            Ok(a) if a.status == 401 || a.status == 403 => {
                return Err(Error::Fetch(scrub(format!("Neuronpedia refused the export ({}): {}", a.status, snippet(&a.body)), key)));
            }
            Ok(a) if a.status == 429 || a.status >= 500 => {
                last = format!("{} {}", a.status, snippet(&a.body));
                std::thread::sleep(a.retry_after.unwrap_or(backoff));
            }
            Ok(a) => return Err(Error::Fetch(scrub(format!("{url}: {} {}", a.status, snippet(&a.body)), key))),
            Err(e) => {
                last = e;
                std::thread::sleep(backoff);
            }
        }
        attempt += 1;
        stats.retries += 1;
    }
    Err(Error::Fetch(scrub(format!("{url}: {last} (gave up after {} retries)", opts.retries), key)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_urls() {
        assert_eq!(split_id("gemma-2-2b/6-gemmascope-res-16k").unwrap(), ("gemma-2-2b", "6-gemmascope-res-16k"));
        assert!(split_id("nolayer").is_err() && split_id("a/b/c").is_err());
        assert_eq!(encode("a b/c"), "a%20b%2Fc");
        assert_eq!(scrub("key sk-123 echoed".into(), Some("sk-123")), "key *** echoed");
        let dbg = format!("{:?}", FetchOptions { api_key: Some("sk-secret".into()), ..Default::default() });
        assert!(!dbg.contains("sk-secret"), "{dbg}");
    }

    #[test]
    fn limiter_spaces_requests() {
        // 100 requests/s: 5 slots take at least 4 intervals = 40 ms.
        let l = Limiter::new(100.0);
        let t = Instant::now();
        for _ in 0..5 {
            l.wait();
        }
        assert!(t.elapsed() >= Duration::from_millis(39), "{:?}", t.elapsed());
    }
}
