//! `saex serve`: the HTTP API over one model and its SAEs (see saex-server), saex's routes
//! and Neuronpedia's inference API. Without `--secret-env` it has no authentication and
//! binds loopback only; with it every request must carry the secret in `X-SECRET-KEY`.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use saex_engine::{Session, SessionOptions};

/// Arguments of `saex serve`.
#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on (port 0: any free port, printed on stderr).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// A .gguf file, a Hugging Face model directory, or a hub id in the local HF cache.
    #[arg(long)]
    model: String,
    /// SAE directories or SAELens release paths (repeat for several).
    #[arg(long, required_unless_present = "source")]
    sae: Vec<String>,
    /// An SAE under a Neuronpedia source id, `ID=SAE` (e.g. `6-res-mine=./my-sae`; loaded if
    /// not given with --sae). Others get `{layer}-saex-{res|att|mlp}-{width}`.
    #[arg(long)]
    source: Vec<String>,
    /// The model id Neuronpedia clients send (default: from an SAE's Neuronpedia id, else the
    /// model's name, e.g. gemma-3-270m).
    #[arg(long)]
    np_model: Option<String>,
    /// Most tokens in a prompt of the Neuronpedia routes (Neuronpedia's TOKEN_LIMIT).
    #[arg(long, default_value_t = saex_engine::neuronpedia::DEFAULT_TOKEN_LIMIT)]
    token_limit: usize,
    /// The environment variable holding the secret every request must carry in X-SECRET-KEY
    /// (required to listen on a non-loopback address).
    #[arg(long)]
    secret_env: Option<String>,
    /// Label catalogs (saex or Neuronpedia export), as for `saex discover`.
    #[arg(long)]
    labels: Vec<PathBuf>,
    /// A corpus activation index (saex index build) to answer /v1/features/{sae}/{n} from.
    #[arg(long)]
    index: Option<PathBuf>,
    /// Requests running model work at once (the rest queue).
    #[arg(long, default_value_t = 2)]
    max_concurrent: usize,
    /// Time limit per request, in seconds.
    #[arg(long, default_value_t = 120)]
    timeout_secs: u64,
    /// Largest request body, in KiB.
    #[arg(long, default_value_t = 1024)]
    max_body_kb: usize,
    /// Limits of one route, overriding the three above for it: `PATH:KEY=N[,KEY=N]` with
    /// keys `concurrent`, `timeout-secs`, `body-kb`, e.g.
    /// `/v1/sae/logit-stats:timeout-secs=600,concurrent=1`. Repeat for more routes.
    #[arg(long = "route-limit", value_parser = parse_route_limit)]
    route_limits: Vec<(String, saex_server::RouteLimits)>,
    /// Neuronpedia's address, for POST /v1/explain/fetch (its API key: NEURONPEDIA_API_KEY).
    #[arg(long, default_value = saex_engine::saex_labels::fetch::DEFAULT_BASE_URL)]
    neuronpedia_url: String,
    #[command(flatten)]
    cache: crate::cache_args::CacheArgs,
}

/// `PATH:KEY=N[,KEY=N]` → the route's limits.
fn parse_route_limit(s: &str) -> Result<(String, saex_server::RouteLimits), String> {
    let (path, spec) = s.split_once(':').ok_or_else(|| format!("{s:?}: expected PATH:KEY=N, e.g. /v1/steer:concurrent=1"))?;
    let mut limits = saex_server::RouteLimits::default();
    for kv in spec.split(',') {
        let (k, v) = kv.split_once('=').ok_or_else(|| format!("{kv:?}: expected KEY=N (concurrent, timeout-secs, body-kb)"))?;
        let n: u64 = v.trim().parse().map_err(|_| format!("{k}={v:?}: expected a whole number"))?;
        if n == 0 {
            return Err(format!("{k}=0: a limit must be at least 1"));
        }
        match k.trim() {
            "concurrent" => limits.max_concurrent = Some(n as usize),
            "timeout-secs" => limits.timeout = Some(Duration::from_secs(n)),
            "body-kb" => limits.body_limit = Some((n as usize).saturating_mul(1024)),
            other => return Err(format!("unknown limit {other:?} (concurrent, timeout-secs, body-kb)")),
        }
    }
    Ok((path.to_string(), limits))
}

/// Run it (until Ctrl-C).
pub fn run(args: Args, _out: &mut dyn Write) -> anyhow::Result<()> {
    // Checked before the model loads: a typo in a route fails at once.
    let routes: std::collections::HashMap<String, saex_server::RouteLimits> = args.route_limits.iter().cloned().collect();
    let known = saex_server::route_paths();
    if let Some(p) = routes.keys().find(|p| !known.contains(&p.as_str())) {
        anyhow::bail!("--route-limit {p}: no such route; the routes are: {}", known.join(", "));
    }
    let secret = match &args.secret_env {
        Some(var) => match std::env::var(var) {
            Ok(s) if !s.is_empty() => Some(saex_server::Secret(s)),
            _ => anyhow::bail!("--secret-env {var}: the environment variable {var} is not set or empty"),
        },
        None => None,
    };
    if secret.is_none() && !args.addr.ip().is_loopback() {
        anyhow::bail!(
            "refusing to listen on {} without a secret: the API would be open to other machines; give --secret-env VAR or a loopback --addr",
            args.addr
        );
    }
    let mut names = Vec::new();
    let mut saes = args.sae.clone();
    for s in &args.source {
        let (id, sae) = s.split_once('=').ok_or_else(|| anyhow::anyhow!("--source {s}: expected ID=SAE, e.g. 6-res-mine=./my-sae"))?;
        names.push((id.to_string(), sae.to_string()));
        if !saes.iter().any(|x| x == sae) {
            saes.push(sae.to_string());
        }
    }
    let cache = args.cache.open()?;
    let opts = SessionOptions { labels: args.labels.clone(), cache, logits: true, ..crate::session_options() };
    let session = crate::opened(Session::open(&args.model, &saes, opts)?)?;
    let index = match &args.index {
        Some(dir) => {
            let ix = saex_engine::index_store::Index::open(dir).map_err(saex_engine::from_index)?;
            saex_engine::check_index_matches(&session, &ix.manifest, dir)?;
            let labels = saex_engine::IndexLabels::load(&ix, &args.labels, Some(&crate::registry()))?;
            Some(std::sync::Arc::new((ix, labels)))
        }
        None => None,
    };
    let np_opts = saex_engine::neuronpedia::NpOptions { names, model: args.np_model.clone(), token_limit: Some(args.token_limit) };
    let np = saex_engine::neuronpedia::Neuronpedia::new(&session, &np_opts)?;
    let sources: Vec<&str> = np.sources.iter().map(|s| s.id.as_str()).collect();
    eprintln!("neuronpedia: model {:?}, sources {}", np.model, sources.join(", "));
    if secret.is_none() {
        eprintln!("loopback only: no --secret-env, so no X-SECRET-KEY check and no other machine can connect");
    }
    let opts = saex_server::Options {
        max_concurrent: args.max_concurrent,
        timeout: Duration::from_secs(args.timeout_secs),
        body_limit: args.max_body_kb.saturating_mul(1024),
        index,
        explain_fetch: saex_engine::saex_labels::fetch::FetchOptions {
            base_url: args.neuronpedia_url.clone(),
            api_key: std::env::var(saex_engine::saex_labels::fetch::API_KEY_ENV).ok().filter(|k| !k.is_empty()),
            cache_dir: Some(saex_engine::neuronpedia_cache_dir()),
            ..Default::default()
        },
        neuronpedia: Some(std::sync::Arc::new(np)),
        secret,
        routes,
    };
    saex_server::serve(args.addr, session, opts, |addr| eprintln!("listening on http://{addr}"))?;
    Ok(())
}
