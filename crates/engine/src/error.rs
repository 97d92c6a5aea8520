//! The one error type of `saex-engine`.

/// Errors from running a model with an SAE.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// From the model.
    #[error(transparent)]
    Model(#[from] saex_model::Error),
    /// From the SAE.
    #[error(transparent)]
    Sae(#[from] saex_sae::Error),
    /// The model and the SAE do not fit together, or an argument is out of range.
    #[error("{0}")]
    Invalid(String),
    /// A tensor operation failed.
    #[error("tensor error: {}", saex_model::error::first_line(.0))]
    Candle(#[from] candle_core::Error),
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
