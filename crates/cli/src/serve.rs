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
    #[command(flatten)]
    cache: crate::cache_args::CacheArgs,
}

/// Run it (until Ctrl-C).
pub fn run(args: Args, _out: &mut dyn Write) -> anyhow::Result<()> {
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
    let np_opts = saex_engine::neuronpedia::NpOptions { names, model: args.np_model.clone(), token_limit: Some(args.token_limit) };
    let np = saex_engine::neuronpedia::Neuronpedia::new(&session, &np_opts)?;
    let sources: Vec<&str> = np.sources.iter().map(|s| s.id.as_str()).collect();
    eprintln!("neuronpedia: model {:?}, sources {}", np.model, sources.join(", "));
    if secret.is_none() {
        eprintln!("loopback only: no --secret-env, so no X-SECRET-KEY check and no other machine can connect");
    }
    let index = match &args.index {
        Some(dir) => {
            let ix = saex_engine::index_store::Index::open(dir).map_err(saex_engine::from_index)?;
            let labels = saex_engine::IndexLabels::load(&ix, &args.labels)?;
            Some(std::sync::Arc::new((ix, labels)))
        }
        None => None,
    };
    let opts = saex_server::Options {
        max_concurrent: args.max_concurrent,
        timeout: Duration::from_secs(args.timeout_secs),
        body_limit: args.max_body_kb.saturating_mul(1024),
        index,
        neuronpedia: Some(std::sync::Arc::new(np)),
        secret,
    };
    saex_server::serve(args.addr, session, opts, |addr| eprintln!("listening on http://{addr}"))?;
    Ok(())
}
