//! Weights that stay in their stored blocks (GGUF quantized types, F16, BF16) and the
//! products that read them: [`QMatrix`] and [`QMatrix::matmul_t`].
//!
//! Why hand-written: no crate offers a matmul that dequantizes GGUF blocks on the fly with
//! f32 activations. ggml (and candle's `QMatMul`, which follows it) quantizes the
//! activations to 8 bits and uses integer dot products, which is fast but changes every
//! value a little; saex promises the dequantized f32 model's values (its parity tests
//! compare hook values with transformers'). So the kernels here keep activations and sums in
//! f32 and read the weights' bits directly:
//!
//! - one activation row (decoding a token): a fused dequantize + dot per weight row, with
//!   threads over output rows ([`blocks::dot`]); the weights are read once, in their
//!   compressed size, which is what bounds decoding speed;
//! - many rows (prefill, batches): weight rows are dequantized tile by tile into an f32
//!   buffer that feeds the same faer matmul as the dense path.
//!
//! Block layouts: ggml `ggml-common.h`; see [`blocks`].

#[cfg(target_arch = "x86_64")]
mod avx512;
mod blocks;
pub mod dispatch;

use std::sync::Arc;

use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};
use rayon::prelude::*;

pub use dispatch::{available, isa, Isa};

/// A stored element type: GGUF's quantized block types and the plain float types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types)]
pub enum QType {
    /// 32-bit float.
    F32,
    /// IEEE half.
    F16,
    /// bfloat16.
    BF16,
    /// 32 values: f16 scale, 4-bit values offset by 8 (18 bytes).
    Q4_0,
    /// 32 values: f16 scale and min, 4-bit values (20 bytes).
    Q4_1,
    /// 32 values: f16 scale, 5-bit values offset by 16 (22 bytes).
    Q5_0,
    /// 32 values: f16 scale and min, 5-bit values (24 bytes).
    Q5_1,
    /// 32 values: f16 scale, 8-bit values (34 bytes).
    Q8_0,
    /// 256 values: f16 scale and min, 8 × 6-bit sub-scales and mins, 4-bit values (144 bytes).
    Q4K,
    /// 256 values: as Q4_K with a fifth bit per value (176 bytes).
    Q5K,
    /// 256 values: 16 × 8-bit sub-scales, f16 scale, 6-bit values offset by 32 (210 bytes).
    Q6K,
    /// 256 values: f32 scale, 8-bit values, 16 partial sums (292 bytes).
    Q8K,
}

impl QType {
    /// Every type, for tests and messages.
    pub const ALL: [QType; 12] = [
        QType::F32,
        QType::F16,
        QType::BF16,
        QType::Q4_0,
        QType::Q4_1,
        QType::Q5_0,
        QType::Q5_1,
        QType::Q8_0,
        QType::Q4K,
        QType::Q5K,
        QType::Q6K,
        QType::Q8K,
    ];

    /// Values per block.
    pub fn block_len(self) -> usize {
        match self {
            QType::F32 | QType::F16 | QType::BF16 => 1,
            QType::Q4_0 | QType::Q4_1 | QType::Q5_0 | QType::Q5_1 | QType::Q8_0 => 32,
            QType::Q4K | QType::Q5K | QType::Q6K | QType::Q8K => 256,
        }
    }

    /// Bytes per block.
    pub fn block_bytes(self) -> usize {
        match self {
            QType::F32 => 4,
            QType::F16 | QType::BF16 => 2,
            QType::Q4_0 => 18,
            QType::Q4_1 => 20,
            QType::Q5_0 => 22,
            QType::Q5_1 => 24,
            QType::Q8_0 => 34,
            QType::Q4K => 144,
            QType::Q5K => 176,
            QType::Q6K => 210,
            QType::Q8K => 292,
        }
    }

    /// The GGML type id (`enum ggml_type`).
    pub fn ggml_id(self) -> u32 {
        match self {
            QType::F32 => 0,
            QType::F16 => 1,
            QType::Q4_0 => 2,
            QType::Q4_1 => 3,
            QType::Q5_0 => 6,
            QType::Q5_1 => 7,
            QType::Q8_0 => 8,
            QType::Q4K => 12,
            QType::Q5K => 13,
            QType::Q6K => 14,
            QType::Q8K => 15,
            QType::BF16 => 30,
        }
    }

    /// From a GGML type id; `None` for types these kernels do not read.
    pub fn from_ggml_id(id: u32) -> Option<QType> {
        QType::ALL.into_iter().find(|t| t.ggml_id() == id)
    }

    /// ggml's name (`Q4_K`, `BF16`, ...).
    pub fn name(self) -> &'static str {
        match self {
            QType::F32 => "F32",
            QType::F16 => "F16",
            QType::BF16 => "BF16",
            QType::Q4_0 => "Q4_0",
            QType::Q4_1 => "Q4_1",
            QType::Q5_0 => "Q5_0",
            QType::Q5_1 => "Q5_1",
            QType::Q8_0 => "Q8_0",
            QType::Q4K => "Q4_K",
            QType::Q5K => "Q5_K",
            QType::Q6K => "Q6_K",
            QType::Q8K => "Q8_K",
        }
    }

    /// Bytes of `n` values (a multiple of the block length).
    pub fn bytes_of(self, n: usize) -> usize {
        n / self.block_len() * self.block_bytes()
    }

    /// The dot kernel also takes per-32 sums of the activations (min / offset terms).
    fn needs_sums(self) -> bool {
        matches!(self, QType::Q4_1 | QType::Q5_1 | QType::Q4K | QType::Q5K)
    }
}

impl std::fmt::Display for QType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Bytes that outlive the matrices viewing them: a memory-mapped file, or an owned buffer.
pub type Bytes = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// A weight matrix `[rows, cols]` (PyTorch `[out, in]`) in its stored type, viewing bytes it
/// shares (a memory map: nothing is read until a product touches it).
#[derive(Clone)]
pub struct QMatrix {
    ty: QType,
    rows: usize,
    cols: usize,
    data: Bytes,
    offset: usize,
}

impl std::fmt::Debug for QMatrix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "QMatrix({} [{}, {}])", self.ty, self.rows, self.cols)
    }
}

/// Output rows per task of a matrix-vector product: enough work to be worth a task, and
/// enough tasks to balance the threads.
fn rows_per_task(rows: usize, row_bytes: usize) -> usize {
    let threads = rayon::current_num_threads().max(1);
    let min_rows = (16 * 1024 / row_bytes.max(1)).max(1); // at least ~16 KB of weights
    rows.div_ceil(4 * threads).max(min_rows).min(rows.max(1))
}

/// Activation rows up to which a product uses the fused kernel once per row rather than
/// dequantizing tiles for the f32 matmul.
const FUSED_MAX_ROWS: usize = 3;

/// f32 values per dequantized tile of the tiled product (8 MB).
const TILE_VALUES: usize = 2 << 20;

impl QMatrix {
    /// A `[rows, cols]` matrix of `ty` stored at `data[offset..]`, row after row. Fails when
    /// `cols` is not a whole number of blocks or the bytes are too few.
    pub fn new(ty: QType, rows: usize, cols: usize, data: Bytes, offset: usize) -> Result<QMatrix, String> {
        if !cols.is_multiple_of(ty.block_len()) {
            return Err(format!("{ty} rows of {cols} values are not whole {}-value blocks", ty.block_len()));
        }
        let need = offset + rows * ty.bytes_of(cols);
        let have = (*data).as_ref().len();
        if need > have {
            return Err(format!("{ty} [{rows}, {cols}] needs bytes {offset}..{need}, only {have} present"));
        }
        Ok(QMatrix { ty, rows, cols, data, offset })
    }

    /// The stored type.
    pub fn qtype(&self) -> QType {
        self.ty
    }

    /// `(rows, cols)`.
    pub fn dims(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// Bytes of one stored row.
    pub fn row_bytes(&self) -> usize {
        self.ty.bytes_of(self.cols)
    }

    /// The stored bytes, all rows.
    pub fn bytes(&self) -> &[u8] {
        &(*self.data).as_ref()[self.offset..self.offset + self.rows * self.row_bytes()]
    }

    /// A copy whose row `i` is this matrix's row `perm[i]` (owned bytes).
    pub fn permute_rows(&self, perm: &[usize]) -> QMatrix {
        let rb = self.row_bytes();
        let src = self.bytes();
        let mut out = Vec::with_capacity(perm.len() * rb);
        for &p in perm {
            out.extend_from_slice(&src[p * rb..(p + 1) * rb]);
        }
        QMatrix { ty: self.ty, rows: perm.len(), cols: self.cols, data: Arc::new(out), offset: 0 }
    }

    /// Rows `ids` dequantized, `ids.len() × cols` values (embedding lookup).
    pub fn gather_rows(&self, ids: &[u32]) -> Vec<f32> {
        let (rb, k, isa) = (self.row_bytes(), self.cols, isa());
        let src = self.bytes();
        let mut out = vec![0f32; ids.len() * k];
        out.par_chunks_mut(k).zip(ids.par_iter()).for_each(|(o, &id)| {
            let id = (id as usize).min(self.rows.saturating_sub(1));
            dispatch::dequant_rows(isa, self.ty, &src[id * rb..(id + 1) * rb], rb, k, o);
        });
        out
    }

    /// Rows `start..start + n` dequantized into `out` (`n × cols` values), over all threads.
    fn dequant_into(&self, start: usize, n: usize, out: &mut [f32], isa: Isa) {
        let (rb, k) = (self.row_bytes(), self.cols);
        let src = &self.bytes()[start * rb..(start + n) * rb];
        let per = rows_per_task(n, rb);
        out.par_chunks_mut(per * k).zip(src.par_chunks(per * rb)).for_each(|(o, s)| {
            dispatch::dequant_rows(isa, self.ty, s, rb, k, o);
        });
    }

    /// The whole matrix as f32 `[rows, cols]` (the `--dtype f32` path).
    pub fn dequantize(&self) -> candle_core::Result<Tensor> {
        let mut out = vec![0f32; self.rows * self.cols];
        self.dequant_into(0, self.rows, &mut out, isa());
        Tensor::from_vec(out, (self.rows, self.cols), &candle_core::Device::Cpu)
    }

    /// `x · Wᵀ`: `x` `[m, cols]` f32 → `[m, rows]`, f32 accumulation.
    pub fn matmul_t(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.contiguous()?.apply_op1_no_bwd(&QMatMulT(self))
    }

    fn matmul_t_slice(&self, x: &[f32], m: usize, isa: Isa) -> Vec<f32> {
        let (n, k) = (self.rows, self.cols);
        let mut out = vec![0f32; m * n];
        if m == 0 || n == 0 {
            return out;
        }
        if m <= FUSED_MAX_ROWS {
            self.fused(x, m, &mut out, isa);
        } else {
            self.tiled(x, m, &mut out, isa);
        }
        debug_assert_eq!(x.len(), m * k);
        out
    }

    /// One fused dequantize + dot per (activation row, weight row), threads over weight rows.
    fn fused(&self, x: &[f32], m: usize, out: &mut [f32], isa: Isa) {
        let (n, k, rb) = (self.rows, self.cols, self.row_bytes());
        let sums: Vec<Vec<f32>> = x
            .chunks_exact(k)
            .map(|xr| {
                let mut s = Vec::new();
                if self.ty.needs_sums() {
                    blocks::block_sums(xr, &mut s);
                }
                s
            })
            .collect();
        let src = self.bytes();
        let per = rows_per_task(n, rb);
        if m == 1 {
            // One activation row: each task writes its run of outputs directly.
            let work = |(o, s): (&mut [f32], &[u8])| dispatch::dot_rows(isa, self.ty, s, rb, x, &sums[0], o);
            if per >= n {
                work((out, src));
            } else {
                out.par_chunks_mut(per).zip(src.par_chunks(per * rb)).for_each(work);
            }
            return;
        }
        // Transposed output [n, m] so each task owns a contiguous run.
        let mut out_t = vec![0f32; n * m];
        let work = |(o, s): (&mut [f32], &[u8])| {
            let rows = s.len() / rb;
            let mut tmp = vec![0f32; rows];
            for (i, (xr, xs)) in x.chunks_exact(k).zip(&sums).enumerate() {
                dispatch::dot_rows(isa, self.ty, s, rb, xr, xs, &mut tmp);
                for (r, v) in tmp.iter().enumerate() {
                    o[r * m + i] = *v;
                }
            }
        };
        if per >= n {
            work((&mut out_t[..], src));
        } else {
            out_t.par_chunks_mut(per * m).zip(src.par_chunks(per * rb)).for_each(work);
        }
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = out_t[j * m + i];
            }
        }
    }

    /// Tiles of weight rows dequantized to f32, each multiplied by faer (single-threaded)
    /// into its rows of the transposed output; tiles are spread over the rayon pool. (faer's
    /// own parallel matmul per tile spent a third of a 7B prefill in its barriers.)
    fn tiled(&self, x: &[f32], m: usize, out: &mut [f32], isa: Isa) {
        let (n, k, rb) = (self.rows, self.cols, self.row_bytes());
        let threads = rayon::current_num_threads().max(1);
        // Big enough to amortize packing x, small enough for a few tiles per thread.
        let nt = (TILE_VALUES / k.max(1)).min(n.div_ceil(2 * threads)).max(16).min(n);
        let a = faer::MatRef::from_row_major_slice(x, m, k);
        let src = self.bytes();
        let mut out_t = vec![0f32; n * m]; // [n, m]
        out_t.par_chunks_mut(nt * m).zip(src.par_chunks(nt * rb)).for_each(|(o, s)| {
            let rows = s.len() / rb;
            TILE.with(|cell| {
                // One buffer per thread, reused: a fresh 8 MB allocation per product was paid
                // in page faults (huge-page zeroing took ~10% of a prefill). A worker waiting
                // inside one product may start another on the same thread: that one gets its own.
                let mut own = Vec::new();
                let mut borrowed = cell.try_borrow_mut().ok();
                let tile = borrowed.as_deref_mut().unwrap_or(&mut own);
                if tile.len() < rows * k {
                    tile.resize(rows * k, 0.0);
                }
                let t = &mut tile[..rows * k];
                dispatch::dequant_rows(isa, self.ty, s, rb, k, t);
                // outᵀ tile [rows, m] = W tile [rows, k] · xᵀ [k, m].
                let w = faer::MatRef::from_row_major_slice(&t[..], rows, k);
                let c = faer::MatMut::from_row_major_slice_mut(o, rows, m);
                faer::linalg::matmul::matmul(c, faer::Accum::Replace, w, a.transpose(), 1.0f32, faer::Par::Seq);
            });
        });
        transpose_into(&out_t, n, m, out);
    }
}

/// `src` `[rows, cols]` → `dst` `[cols, rows]`, in cache-sized blocks.
fn transpose_into(src: &[f32], rows: usize, cols: usize, dst: &mut [f32]) {
    const B: usize = 32;
    for r0 in (0..rows).step_by(B) {
        for c0 in (0..cols).step_by(B) {
            for r in r0..(r0 + B).min(rows) {
                for c in c0..(c0 + B).min(cols) {
                    dst[c * rows + r] = src[r * cols + c];
                }
            }
        }
    }
}

thread_local! {
    static TILE: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

struct QMatMulT<'a>(&'a QMatrix);

impl CustomOp1 for QMatMulT<'_> {
    fn name(&self) -> &'static str {
        "quantized-matmul-t"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (m, k) = l.shape().dims2()?;
        if k != self.0.cols {
            candle_core::bail!("quantized matmul: x has {k} columns, {:?} has {}", self.0, self.0.cols)
        }
        let Some((start, end)) = l.contiguous_offsets() else { candle_core::bail!("quantized matmul needs a contiguous input") };
        let x = &s.as_slice::<f32>()?[start..end];
        let out = self.0.matmul_t_slice(x, m, isa());
        Ok((CpuStorage::F32(out), Shape::from((m, self.0.rows))))
    }
}

#[cfg(test)]
mod tests;
