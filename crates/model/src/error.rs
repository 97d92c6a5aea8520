//! The one error type of `saex-model`. Every variant names what was wrong (file, tensor,
//! key, hook, expected vs got) so the CLI can print it on one line.

use std::path::PathBuf;

use saex_hooks::Hook;

/// Errors from loading or running a model.
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
    /// A file exists but is not what it claims to be (truncated, corrupt header, bad JSON).
    #[error("{path}: {msg}")]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        msg: String,
    },
    /// A checkpoint lacks a tensor the architecture needs.
    #[error("{path}: missing tensor `{name}`")]
    MissingTensor {
        /// The checkpoint.
        path: PathBuf,
        /// The tensor name as stored in the file.
        name: String,
    },
    /// A tensor has the wrong shape.
    #[error("{path}: tensor `{name}` has shape {got:?}, expected {expected:?}")]
    BadShape {
        /// The checkpoint.
        path: PathBuf,
        /// The tensor name as stored in the file.
        name: String,
        /// The shape the config implies.
        expected: Vec<usize>,
        /// The shape in the file.
        got: Vec<usize>,
    },
    /// A tensor is stored in a type saex cannot read.
    #[error("{path}: tensor `{name}` has unsupported type {dtype}")]
    UnsupportedDtype {
        /// The checkpoint.
        path: PathBuf,
        /// The tensor.
        name: String,
        /// The stored type.
        dtype: String,
    },
    /// A config key is missing or has a bad value.
    #[error("{path}: config key `{key}`: {msg}")]
    Config {
        /// The config file (config.json or the GGUF).
        path: PathBuf,
        /// The key.
        key: String,
        /// What is wrong.
        msg: String,
    },
    /// The architecture is not one saex implements.
    #[error("unsupported architecture `{arch}` (supported: gpt2, gemma2, gemma3, llama, qwen2)")]
    UnsupportedArch {
        /// The `model_type` or `general.architecture` found.
        arch: String,
    },
    /// A model reference could not be resolved to files.
    #[error("{0}")]
    NotFound(String),
    /// A hook name that this model does not have.
    #[error("hook `{hook}` is not in this model: {why}")]
    BadHook {
        /// The hook asked for.
        hook: Hook,
        /// Why (e.g. "layer 30 is out of range: the model has 18 layers").
        why: String,
    },
    /// The input is longer than the model's context.
    #[error("input has {got} tokens, longer than the model's context of {max} tokens")]
    TooLong {
        /// Tokens given.
        got: usize,
        /// The context length.
        max: usize,
    },
    /// The caller cancelled the work (e.g. a server request past its time limit).
    #[error("cancelled")]
    Cancelled,
    /// Bad arguments to a library call (empty input, invalid sampling parameters...).
    #[error("{0}")]
    Invalid(String),
    /// Tokenizer failure.
    #[error(transparent)]
    Tokenizer(#[from] crate::tokenizer::TokenizerError),
    /// A tensor operation failed (a bug or resource exhaustion, not bad input).
    #[error("tensor error: {}", first_line(.0))]
    Candle(#[from] candle_core::Error),
}

/// The message of a candle error without the backtrace candle appends when
/// `RUST_BACKTRACE` is set: errors are printed on one line.
pub fn first_line(e: &candle_core::Error) -> String {
    e.to_string().lines().next().unwrap_or_default().to_string()
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
