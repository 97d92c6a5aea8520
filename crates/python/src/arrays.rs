//! Activations cross to Python as numpy arrays, never as lists of floats.

use candle_core::{DType, Tensor};
use numpy::ndarray::{Array2, ArrayD, IxDyn};
use saex_sae::SparseActs;

/// The SAE's codes as a dense `[n_tokens, d_sae]` array, zero where a feature is off
/// (`saex encode`'s `feature_acts`).
pub fn dense(acts: &SparseActs) -> Array2<f32> {
    let mut out = Array2::zeros((acts.n_tokens(), acts.d_sae));
    for i in 0..acts.n_tokens() {
        if let Some((features, values)) = acts.token(i) {
            for (&f, &v) in features.iter().zip(values) {
                out[[i, f as usize]] = v;
            }
        }
    }
    out
}

/// A hook's activations `[n_tokens, ...]` as f32, shape kept (`hook_z` stays 3-D).
pub fn tensor(t: &Tensor) -> saex_engine::Result<ArrayD<f32>> {
    let dims = t.dims().to_vec();
    let values = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
    // The values were read from a tensor of exactly these dims, so the shape always fits.
    Ok(ArrayD::from_shape_vec(IxDyn(&dims), values).expect("a tensor's values fill its own shape"))
}
