//! `saex serve`: the HTTP API over one model and its SAEs (see saex-server). Binds loopback
//! unless told otherwise: the API runs models on request and has no authentication.

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
    #[arg(long, required = true)]
    sae: Vec<String>,
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
    /// Neuronpedia's address, for POST /v1/explain/fetch (its API key: NEURONPEDIA_API_KEY).
    #[arg(long, default_value = saex_engine::saex_labels::fetch::DEFAULT_BASE_URL)]
    neuronpedia_url: String,
    #[command(flatten)]
    cache: crate::cache_args::CacheArgs,
}

/// Run it (until Ctrl-C).
pub fn run(args: Args, _out: &mut dyn Write) -> anyhow::Result<()> {
    let cache = args.cache.open()?;
    let opts = SessionOptions { labels: args.labels.clone(), cache, logits: true, ..crate::session_options() };
    let session = crate::opened(Session::open(&args.model, &args.sae, opts)?)?;
    if !args.addr.ip().is_loopback() {
        tracing::warn!("listening on {} — reachable from other machines; the API has no authentication", args.addr.ip());
    }
    let index = match &args.index {
        Some(dir) => {
            let ix = saex_engine::index_store::Index::open(dir).map_err(saex_engine::from_index)?;
            let labels = saex_engine::IndexLabels::load(&ix, &args.labels, Some(&crate::registry()))?;
            Some(std::sync::Arc::new((ix, labels)))
        }
        None => None,
    };
    let opts = saex_server::Options {
        max_concurrent: args.max_concurrent,
        timeout: Duration::from_secs(args.timeout_secs),
        body_limit: args.max_body_kb.saturating_mul(1024),
        index,
        neuronpedia: saex_engine::saex_labels::fetch::FetchOptions {
            base_url: args.neuronpedia_url.clone(),
            api_key: std::env::var(saex_engine::saex_labels::fetch::API_KEY_ENV).ok().filter(|k| !k.is_empty()),
            cache_dir: Some(saex_engine::neuronpedia_cache_dir()),
            ..Default::default()
        },
    };
    saex_server::serve(args.addr, session, opts, |addr| eprintln!("listening on http://{addr}"))?;
    Ok(())
}
