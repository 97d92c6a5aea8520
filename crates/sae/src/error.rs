//! The one error type of `saex-sae`. Every variant names what was wrong (file, tensor, key,
//! hook, expected vs got) so that a caller can print it on one line.

use std::path::PathBuf;

/// Errors from finding, loading or running an SAE.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A file exists but is not what it claims to be (truncated, corrupt header, bad JSON, bad zip).
    #[error("{path}: {msg}")]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        msg: String,
    },
    /// A pickle (`ae.pt`) names a callable other than the torch tensor-rebuild functions and
    /// `OrderedDict`. Unpickling it with Python would run that callable; saex refuses it.
    #[error("{path}: refusing pickle: it calls `{callable}`, which is not a torch tensor-rebuild function or OrderedDict")]
    UnsafePickle {
        /// The pickle file.
        path: PathBuf,
        /// The callable named in the pickle, as `module.name`.
        callable: String,
    },
    /// A config key is missing or has a bad value.
    #[error("{path}: config key `{key}`: {msg}")]
    Config {
        /// The config file.
        path: PathBuf,
        /// The key.
        key: String,
        /// What is wrong.
        msg: String,
    },
    /// `architecture` is not one SAELens 6.x can run at inference.
    #[error(
        "{path}: unknown SAE architecture `{architecture}` (supported: standard, gated, jumprelu, topk, batchtopk, matryoshka_batchtopk)"
    )]
    UnknownArchitecture {
        /// The config file.
        path: PathBuf,
        /// The value found.
        architecture: String,
    },
    /// `normalize_activations` is not one saex implements.
    #[error("{path}: unknown normalize_activations `{value}` (supported: none, expected_average_only_in, constant_norm_rescale, layer_norm){hint}")]
    UnknownNormalization {
        /// The config file.
        path: PathBuf,
        /// The value found.
        value: String,
        /// Extra advice for values SAELens knows but saex refuses.
        hint: String,
    },
    /// A hook name in a config that is not a full TransformerLens hook name saex knows.
    #[error("{path}: hook_name `{name}` is not a TransformerLens hook saex knows (e.g. blocks.6.hook_resid_pre)")]
    UnknownHook {
        /// The config file.
        path: PathBuf,
        /// The value found.
        name: String,
    },
    /// A checkpoint lacks a tensor the architecture needs.
    #[error("{path}: missing tensor `{tensor}` (file has: {found})")]
    MissingTensor {
        /// The checkpoint.
        path: PathBuf,
        /// The tensor name as it would be stored in the file.
        tensor: String,
        /// The names the file does have, comma-separated.
        found: String,
    },
    /// A checkpoint has a tensor the architecture does not use (SAELens loads strictly).
    #[error("{path}: unexpected tensor `{tensor}` for architecture {architecture}")]
    UnexpectedTensor {
        /// The checkpoint.
        path: PathBuf,
        /// The tensor name in the file.
        tensor: String,
        /// The architecture of the config.
        architecture: String,
    },
    /// A tensor has the wrong shape for the config's `d_in`/`d_sae`.
    #[error("{path}: tensor `{tensor}` has shape {got:?}, expected {expected:?}")]
    BadShape {
        /// The checkpoint.
        path: PathBuf,
        /// The tensor name in the file.
        tensor: String,
        /// The shape implied by the config, in the file's orientation.
        expected: Vec<usize>,
        /// The shape in the file.
        got: Vec<usize>,
    },
    /// A weight holds NaN or ±Inf.
    #[error("{path}: tensor `{tensor}` contains {kind} (first at flat index {index})")]
    NonFinite {
        /// The checkpoint.
        path: PathBuf,
        /// The tensor name in the file.
        tensor: String,
        /// `NaN` or `Inf`.
        kind: &'static str,
        /// Flat index of the first bad value.
        index: usize,
    },
    /// A directory holds no file set of a known SAE format.
    #[error("{path}: not an SAE directory: found {found}; expected one of cfg.json+sae_weights.safetensors (SAELens), params.npz (Gemma Scope), params.safetensors (Gemma Scope 2), cfg.json+sae.safetensors (sparsify), hyperparams.json+checkpoints/final.safetensors or config.json+sae_weights.safetensors (Llama Scope), ae.pt+config.json (dictionary_learning)")]
    UnknownFormat {
        /// The directory.
        path: PathBuf,
        /// The files it does have, comma-separated.
        found: String,
    },
    /// A format or variant saex recognises but does not run.
    #[error("{path}: {what} is not supported")]
    Unsupported {
        /// The file or directory.
        path: PathBuf,
        /// What it is.
        what: String,
    },
    /// A spec that is neither a path on disk nor a SAELens release name.
    #[error(
        "`{spec}` is neither a path on disk nor a SAELens release: no release `{release}` in pretrained_saes.yaml (sae_lens {version})"
    )]
    UnknownRelease {
        /// The spec given.
        spec: String,
        /// The part taken as the release name.
        release: String,
        /// The sae_lens version the registry was generated from.
        version: String,
    },
    /// A known release without the SAE id asked for.
    #[error("SAELens release `{release}` has no SAE `{id}` (it has e.g. {examples})")]
    UnknownSaeId {
        /// The release.
        release: String,
        /// The id asked for.
        id: String,
        /// A few ids it does have.
        examples: String,
    },
    /// A release whose SAELens `conversion_func` saex does not implement.
    #[error("SAELens release `{release}` uses conversion `{conversion}`, which saex does not load (supported: sae_lens, gemma_2, gemma_3, llama_scope, llama_scope_r1_distill, dictionary_learning_1)")]
    UnsupportedRelease {
        /// The release.
        release: String,
        /// Its `conversion_func`.
        conversion: String,
    },
    /// A release's file is not in the local Hugging Face cache (saex never downloads).
    #[error("`{file}` of `{repo}` (SAELens release `{release}`) is not in the local Hugging Face cache: no {missing}; saex does not download: run `huggingface-cli download {repo} --include '{folder}/*'` or pass a local path")]
    NotCached {
        /// The release.
        release: String,
        /// Its Hugging Face repo.
        repo: String,
        /// The file inside the repo.
        file: String,
        /// The SAE's folder inside the repo.
        folder: String,
        /// The cache path that does not exist.
        missing: String,
    },
    /// The SAE's input width differs from the activations it is given.
    #[error("SAE d_in {d_in} ≠ {what} width {width}{at}")]
    WidthMismatch {
        /// The SAE's `d_in`.
        d_in: usize,
        /// The width given.
        width: usize,
        /// "hook" or "input".
        what: &'static str,
        /// ` at <hook>` when the hook is known, else empty.
        at: String,
    },
    /// An argument to encode/decode has the wrong shape or values.
    #[error("{0}")]
    BadInput(String),
    /// `decode` of an SAE whose normalization must be undone with the input's statistics.
    #[error("decode of a `{normalization}` SAE needs the input it normalized: use decode_for(acts, x) or forward(x)")]
    DecodeNeedsInput {
        /// The normalization.
        normalization: &'static str,
    },
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn bad_file(path: impl Into<PathBuf>, msg: impl std::fmt::Display) -> Self {
        Error::BadFile { path: path.into(), msg: one_line(&msg.to_string()) }
    }

    pub(crate) fn config(path: impl Into<PathBuf>, key: &str, msg: impl std::fmt::Display) -> Self {
        Error::Config { path: path.into(), key: key.to_string(), msg: msg.to_string() }
    }
}

/// candle errors can carry a backtrace or span lines; keep the first line.
fn one_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_string()
}

/// Reads a whole file, naming it on failure.
pub(crate) fn read(path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })
}

/// Reads and parses a JSON file, naming it on failure.
pub(crate) fn read_json(path: &std::path::Path) -> Result<serde_json::Value> {
    let bytes = read(path)?;
    serde_json::from_slice(&bytes).map_err(|e| Error::bad_file(path, format!("bad JSON: {e}")))
}
