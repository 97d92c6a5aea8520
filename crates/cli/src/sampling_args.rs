//! `--max-tokens`, `--temperature`, `--top-p`, `--seed`: how `generate` and `steer` sample.

use saex_model::Sampling;

/// Sampling flags.
#[derive(clap::Args, Clone)]
pub struct SamplingArgs {
    /// Maximum number of new tokens (`--max-new-tokens` also works).
    #[arg(long, alias = "max-new-tokens", default_value_t = 32)]
    pub max_tokens: usize,
    /// Sampling temperature; 0 is greedy.
    #[arg(long, default_value_t = 0.0)]
    temperature: f64,
    /// Nucleus sampling mass.
    #[arg(long, default_value_t = 1.0)]
    top_p: f64,
    /// RNG seed (same seed, same text).
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

impl SamplingArgs {
    /// The sampling the flags describe.
    pub fn sampling(&self) -> Sampling {
        Sampling { temperature: self.temperature, top_p: self.top_p, seed: self.seed }
    }
}
