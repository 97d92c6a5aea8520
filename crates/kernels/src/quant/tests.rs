//! Every block type, on every instruction set this CPU has, against candle's dequantization
//! (an independent implementation of the same ggml layouts) as the oracle: dequantized
//! values, fused products (one to three activation rows) and tiled products (many rows).

use super::*;
use candle_core::quantized::{ggml_file::qtensor_from_ggml, GgmlDType};
use candle_core::{DType, Device};

/// xorshift64*: deterministic bytes without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn f32(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0 // [-1, 1)
    }
}

fn put_f16(b: &mut [u8], at: usize, v: f32) {
    b[at..at + 2].copy_from_slice(&half::f16::from_f32(v).to_le_bytes());
}

/// Random blocks: every bit of the packed values random, scales set to sane magnitudes (a
/// random f16 could be inf or nan).
fn random_bytes(ty: QType, rows: usize, cols: usize, rng: &mut Rng) -> Vec<u8> {
    let n = rows * cols / ty.block_len();
    let bb = ty.block_bytes();
    let mut out = vec![0u8; n * bb];
    for b in out.chunks_exact_mut(bb) {
        for byte in b.iter_mut() {
            *byte = rng.next() as u8;
        }
        match ty {
            QType::F32 => b.copy_from_slice(&rng.f32().to_le_bytes()),
            QType::F16 => put_f16(b, 0, rng.f32()),
            QType::BF16 => b.copy_from_slice(&half::bf16::from_f32(rng.f32()).to_le_bytes()),
            QType::Q4_0 | QType::Q5_0 | QType::Q8_0 => put_f16(b, 0, 0.05 * rng.f32()),
            QType::Q4_1 | QType::Q5_1 | QType::Q4K | QType::Q5K => {
                put_f16(b, 0, 0.05 * rng.f32());
                put_f16(b, 2, 0.05 * rng.f32());
            }
            QType::Q6K => put_f16(b, 208, 0.01 * rng.f32()),
            QType::Q8K => b[0..4].copy_from_slice(&(0.01 * rng.f32()).to_le_bytes()),
        }
    }
    out
}

/// candle's dequantization of the same bytes.
fn oracle(ty: QType, bytes: &[u8], rows: usize, cols: usize) -> Vec<f32> {
    let dev = Device::Cpu;
    let t = match ty {
        QType::F32 => Tensor::from_raw_buffer(bytes, DType::F32, &[rows, cols], &dev).unwrap(),
        QType::F16 => Tensor::from_raw_buffer(bytes, DType::F16, &[rows, cols], &dev).unwrap(),
        QType::BF16 => Tensor::from_raw_buffer(bytes, DType::BF16, &[rows, cols], &dev).unwrap(),
        _ => {
            let g = match ty {
                QType::Q4_0 => GgmlDType::Q4_0,
                QType::Q4_1 => GgmlDType::Q4_1,
                QType::Q5_0 => GgmlDType::Q5_0,
                QType::Q5_1 => GgmlDType::Q5_1,
                QType::Q8_0 => GgmlDType::Q8_0,
                QType::Q4K => GgmlDType::Q4K,
                QType::Q5K => GgmlDType::Q5K,
                QType::Q6K => GgmlDType::Q6K,
                _ => {
                    // candle does not dequantize Q8_K (it only uses it for activations):
                    // d (f32) · q (i8), written out here.
                    assert_eq!(ty, QType::Q8K);
                    let v: Vec<f32> = bytes
                        .chunks_exact(292)
                        .flat_map(|b| {
                            let d = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                            b[4..260].iter().map(move |&q| d * q as i8 as f32)
                        })
                        .collect();
                    return v;
                }
            };
            qtensor_from_ggml(g, bytes, vec![rows, cols], &dev).unwrap().dequantize(&dev).unwrap()
        }
    };
    t.to_dtype(DType::F32).unwrap().flatten_all().unwrap().to_vec1().unwrap()
}

fn matrix(ty: QType, rows: usize, cols: usize, seed: u64) -> (QMatrix, Vec<f32>) {
    let mut rng = Rng(seed);
    let bytes = random_bytes(ty, rows, cols, &mut rng);
    let dense = oracle(ty, &bytes, rows, cols);
    (QMatrix::new(ty, rows, cols, Arc::new(bytes), 0).unwrap(), dense)
}

fn max_abs(v: &[f32]) -> f32 {
    v.iter().fold(0f32, |a, b| a.max(b.abs()))
}

/// `x · Wᵀ` in f64 from the dense oracle.
fn reference(x: &[f32], w: &[f32], m: usize, n: usize, k: usize) -> Vec<f32> {
    let mut out = vec![0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            let s: f64 = (0..k).map(|c| x[i * k + c] as f64 * w[j * k + c] as f64).sum();
            out[i * n + j] = s as f32;
        }
    }
    out
}

#[test]
fn f16_conversion_matches_half_for_every_bit_pattern() {
    for h in 0..=u16::MAX {
        let ours = blocks::f16_to_f32(h);
        let theirs = half::f16::from_bits(h).to_f32();
        assert!(ours.to_bits() == theirs.to_bits() || (ours.is_nan() && theirs.is_nan()), "{h:#06x}: {ours} vs {theirs}");
    }
}

#[test]
fn dequantized_values_equal_candles_for_every_type_and_isa() {
    let (rows, cols) = (7, 512);
    for ty in QType::ALL {
        let (w, dense) = matrix(ty, rows, cols, 1 + ty.ggml_id() as u64);
        let scale = max_abs(&dense);
        for isa in available() {
            let mut ours = vec![0f32; rows * cols];
            w.dequant_into(0, rows, &mut ours, isa);
            let worst = ours.iter().zip(&dense).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            // Exact but for FMA rounding of `d·q + m` (one f32 rounding, ~1e-7 relative).
            assert!(worst <= 2e-7 * scale, "{ty} on {isa:?}: max diff {worst:e} (values up to {scale})");
        }
    }
}

#[test]
fn products_match_the_dense_dequantized_product_for_every_type_and_isa() {
    let (n, k) = (37, 768); // odd row count: uneven thread chunks; 3 super-blocks per row
    for ty in QType::ALL {
        let (w, dense) = matrix(ty, n, k, 100 + ty.ggml_id() as u64);
        let mut rng = Rng(7);
        for m in [1, 2, 3, 4, 9] {
            // 1-3 rows: fused kernel; 4 and 9: tiles through faer.
            let x: Vec<f32> = (0..m * k).map(|_| rng.f32()).collect();
            let expected = reference(&x, &dense, m, n, k);
            let rms = (expected.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / expected.len() as f64).sqrt();
            for isa in available() {
                let got = w.matmul_t_slice(&x, m, isa);
                let worst = got.iter().zip(&expected).map(|(a, b)| (a - b).abs() as f64).fold(0.0, f64::max);
                // f32 sums of 768 products against f64: measured ≤ 2e-6 relative.
                assert!(worst <= 1e-5 * rms, "{ty} on {isa:?}, m = {m}: max|a-e|/rms(e) = {:.2e}", worst / rms);
            }
        }
    }
}

#[test]
fn matmul_t_takes_tensors_and_gathers_rows() {
    let (w, dense) = matrix(QType::Q4K, 20, 256, 3);
    let x = Tensor::randn(0f32, 1.0, (5, 256), &Device::Cpu).unwrap();
    let got = w.matmul_t(&x).unwrap();
    assert_eq!(got.dims(), &[5, 20]);
    let d = Tensor::from_vec(dense.clone(), (20, 256), &Device::Cpu).unwrap();
    let expected = x.matmul(&d.t().unwrap()).unwrap();
    let diff = (got - &expected).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
    let scale = expected.abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
    assert!(diff < 1e-5 * scale, "{diff} of {scale}");
    let rows = w.gather_rows(&[3, 0, 19]);
    assert_eq!(&rows[..256], &dense[3 * 256..4 * 256]);
    assert_eq!(&rows[512..], &dense[19 * 256..]);
    let p = w.permute_rows(&[19, 3]);
    assert_eq!(p.dims(), (2, 256));
    assert_eq!(p.gather_rows(&[1]), rows[..256].to_vec());
}

#[test]
fn too_few_bytes_or_partial_blocks_are_refused() {
    let err = QMatrix::new(QType::Q4_0, 2, 48, Arc::new(vec![0u8; 100]), 0).unwrap_err();
    assert!(err.contains("not whole 32-value blocks"), "{err}");
    let err = QMatrix::new(QType::Q8_0, 2, 64, Arc::new(vec![0u8; 100]), 0).unwrap_err();
    assert!(err.contains("needs bytes 0..136"), "{err}");
}

/// Single-thread speed of the fused kernel per type (`cargo test --release -p saex-kernels
/// -- --ignored --nocapture kernel_speed`): GB/s of weights read and values/ns.
#[test]
#[ignore]
fn kernel_speed() {
    let n: usize = std::env::var("KS_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(2048);
    let k: usize = std::env::var("KS_COLS").ok().and_then(|v| v.parse().ok()).unwrap_or(4096);
    let only = std::env::var("KS_TYPE").ok();
    for ty in QType::ALL.into_iter().filter(|t| only.as_deref().is_none_or(|o| o == t.name())) {
        let mut rng = Rng(5);
        let bytes = random_bytes(ty, n, k, &mut rng);
        let w = QMatrix::new(ty, n, k, Arc::new(bytes), 0).unwrap();
        let x: Vec<f32> = (0..k).map(|_| rng.f32()).collect();
        let mut xs = Vec::new();
        blocks::block_sums(&x, &mut xs);
        for isa in available() {
            let mut out = vec![0f32; n];
            let t = std::time::Instant::now();
            let reps = 5;
            for _ in 0..reps {
                dispatch::dot_rows(isa, ty, w.bytes(), w.row_bytes(), &x, &xs, &mut out);
            }
            let s = t.elapsed().as_secs_f64() / reps as f64;
            let mut tile = vec![0f32; n * k];
            let t = std::time::Instant::now();
            dispatch::dequant_rows(isa, ty, w.bytes(), w.row_bytes(), k, &mut tile);
            let sd = t.elapsed().as_secs_f64();
            eprintln!(
                "{ty:5} {isa:?}: dot {:.1} GB/s {:.2} values/ns; dequant {:.2} values/ns",
                w.bytes().len() as f64 / s / 1e9,
                (n * k) as f64 / s / 1e9,
                (n * k) as f64 / sd / 1e9
            );
        }
    }
}
