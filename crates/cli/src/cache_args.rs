//! `--no-cache`, `--cache-dir`, `--cache-max-mb`: the discovery activation cache, shared by
//! `discover` and `serve`.

use std::path::PathBuf;

use saex_cache::Cache;

/// Cache flags.
#[derive(clap::Args, Clone)]
pub struct CacheArgs {
    /// Do not read or write the activation cache.
    #[arg(long)]
    no_cache: bool,
    /// Cache directory (default: $SAEX_CACHE_DIR, else ~/.cache/saex/discover).
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Cache size cap in MB (least recently used entries are evicted).
    #[arg(long, default_value_t = 1024)]
    cache_max_mb: u64,
}

impl CacheArgs {
    /// The cache the flags ask for (`None` with --no-cache).
    pub fn open(&self) -> anyhow::Result<Option<Cache>> {
        if self.no_cache {
            return Ok(None);
        }
        let dir = self.cache_dir.clone().unwrap_or_else(Cache::default_dir);
        Ok(Some(Cache::open(dir, self.cache_max_mb.saturating_mul(1 << 20))?))
    }
}
