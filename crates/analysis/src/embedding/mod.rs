//! 2-D embeddings of vectors for maps (`saex map`: an SAE's decoder rows, seed 000's "Feature
//! Map"): [`umap()`] as the seed calls it (cosine, 15 neighbours, `min_dist` 0.1, a fixed
//! seed), [`pca()`] as the linear alternative, and [`trustworthiness()`] to say how much of
//! each point's neighbourhood survives the flattening.
//!
//! Everything is a pure function of the rows and a seed, reproducible bit for bit.

pub mod cosine;
pub mod eig;
pub mod fuzzy;
pub mod knn;
pub mod layout;
pub mod pca;
pub mod rng;
pub mod spectral;
pub mod trustworthiness;
pub mod umap;

pub use pca::{pca, pca2, Pca};
pub use trustworthiness::trustworthiness;
pub use umap::{umap, Umap, UmapParams};
