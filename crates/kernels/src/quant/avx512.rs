//! Hand-written AVX-512 fused dequantize + dot kernels (and tile dequantizers) for the block
//! types real GGUF files are made of (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K). The generic kernels of
//! [`super::blocks`] compile to correct AVX-512 code, but LLVM's vectorization of them
//! reaches only ~5 values/ns on one core; these reach the memory bandwidth. Same layouts
//! (ggml `ggml-common.h`), same f32 arithmetic: 16 values per register, converted from
//! their packed integers, multiplied by the activations, summed per block and scaled.
//!
//! Intrinsics need `unsafe` for their pointer loads, which the workspace denies; this module
//! allows it. The only loads are [`load16`] and [`load_ps`], which check their slice's
//! length first; every function here is `#[target_feature]` and is only called by
//! [`super::dispatch`] after runtime detection of these features.
#![allow(unsafe_code)]

use std::arch::x86_64::*;

use super::QType;

/// 16 bytes from the start of `b` (checked), unaligned.
#[inline(always)]
fn load16(b: &[u8]) -> __m128i {
    assert!(b.len() >= 16);
    // SAFETY: `b` holds at least 16 readable bytes (checked above); `loadu` has no
    // alignment requirement.
    unsafe { _mm_loadu_si128(b.as_ptr().cast()) }
}

/// 16 f32 from the start of `x` (checked), unaligned.
#[inline(always)]
fn load_ps(x: &[f32]) -> __m512 {
    assert!(x.len() >= 16);
    // SAFETY: `x` holds at least 16 f32 (checked above); `loadu` has no alignment requirement.
    unsafe { _mm512_loadu_ps(x.as_ptr()) }
}

#[inline(always)]
fn half(b: &[u8], at: usize) -> f32 {
    super::blocks::f16_to_f32(u16::from_le_bytes([b[at], b[at + 1]]))
}

/// 16 unsigned bytes widened to i32 lanes.
#[inline]
#[target_feature(enable = "avx512f")]
fn u8x16(b: &[u8]) -> __m512i {
    _mm512_cvtepu8_epi32(load16(b))
}

/// Ask for `len` bytes of `b` from `at` (a row two ahead) to be brought into cache while
/// this row is computed: decoding streams weights from memory, and a single core's
/// hardware prefetcher alone left half the bandwidth unused here.
#[inline(always)]
pub(crate) fn prefetch(b: &[u8], at: usize, len: usize) {
    let end = (at + len).min(b.len());
    let mut p = at;
    while p < end {
        // SAFETY: `p < b.len()`, so the address is inside the slice; a prefetch never
        // faults and does not change memory.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(b.as_ptr().add(p).cast()) };
        p += 64;
    }
}

/// The kernel for `ty`, if this module has one.
pub(crate) fn has(ty: QType) -> bool {
    matches!(ty, QType::Q8_0 | QType::Q4_0 | QType::Q5_0 | QType::Q4_1 | QType::Q5_1 | QType::Q4K | QType::Q5K | QType::Q6K)
}

/// `out[r] = row r · x` for each stored row (see `dispatch::dot_rows`).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,fma,f16c")]
pub(crate) fn dot_rows(ty: QType, rows: &[u8], row_bytes: usize, x: &[f32], xs: &[f32], out: &mut [f32]) {
    for (i, (r, o)) in rows.chunks_exact(row_bytes).zip(out).enumerate() {
        prefetch(rows, (i + 4) * row_bytes, row_bytes);
        *o = match ty {
            QType::Q8_0 => q8_0(r, x),
            QType::Q4_0 => q4_0(r, x),
            QType::Q5_0 => q5_0(r, x),
            QType::Q4K => q4k(r, x, xs),
            QType::Q6K => q6k(r, x),
            QType::Q4_1 | QType::Q5_1 => q4_1_q5_1(ty, r, x, xs),
            QType::Q5K => q5k(r, x, xs),
            _ => unreachable!("no AVX-512 kernel for {ty}"),
        };
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,fma")]
fn q8_0(row: &[u8], x: &[f32]) -> f32 {
    let (mut a0, mut a1) = (_mm512_setzero_ps(), _mm512_setzero_ps());
    let mut blocks = row.chunks_exact(34).zip(x.chunks_exact(32));
    // Two blocks per turn, into two accumulators, to hide the FMA latency.
    while let Some((b, xb)) = blocks.next() {
        let q0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(load16(&b[2..])));
        let q1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(load16(&b[18..])));
        let s = _mm512_fmadd_ps(q1, load_ps(&xb[16..]), _mm512_mul_ps(q0, load_ps(xb)));
        a0 = _mm512_fmadd_ps(s, _mm512_set1_ps(half(b, 0)), a0);
        let Some((b, xb)) = blocks.next() else { break };
        let q0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(load16(&b[2..])));
        let q1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(load16(&b[18..])));
        let s = _mm512_fmadd_ps(q1, load_ps(&xb[16..]), _mm512_mul_ps(q0, load_ps(xb)));
        a1 = _mm512_fmadd_ps(s, _mm512_set1_ps(half(b, 0)), a1);
    }
    _mm512_reduce_add_ps(_mm512_add_ps(a0, a1))
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,fma")]
fn q4_0(row: &[u8], x: &[f32]) -> f32 {
    let mut acc = _mm512_setzero_ps();
    let (m15, eight) = (_mm512_set1_epi32(15), _mm512_set1_epi32(8));
    for (b, xb) in row.chunks_exact(18).zip(x.chunks_exact(32)) {
        let v = u8x16(&b[2..]);
        let lo = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_and_si512(v, m15), eight));
        let hi = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_srli_epi32::<4>(v), eight));
        let s = _mm512_fmadd_ps(hi, load_ps(&xb[16..]), _mm512_mul_ps(lo, load_ps(xb)));
        acc = _mm512_fmadd_ps(s, _mm512_set1_ps(half(b, 0)), acc);
    }
    _mm512_reduce_add_ps(acc)
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,fma")]
fn q5_0(row: &[u8], x: &[f32]) -> f32 {
    let mut acc = _mm512_setzero_ps();
    let (m15, sixteen) = (_mm512_set1_epi32(15), _mm512_set1_epi32(16));
    for (b, xb) in row.chunks_exact(22).zip(x.chunks_exact(32)) {
        let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
        let v = u8x16(&b[6..]);
        // value = nibble | fifth bit << 4, minus 16: subtract 16 where the bit is clear.
        let lo = _mm512_and_si512(v, m15);
        let lo = _mm512_mask_sub_epi32(lo, !(qh as u16), lo, sixteen);
        let hi = _mm512_srli_epi32::<4>(v);
        let hi = _mm512_mask_sub_epi32(hi, !((qh >> 16) as u16), hi, sixteen);
        let s = _mm512_fmadd_ps(_mm512_cvtepi32_ps(hi), load_ps(&xb[16..]), _mm512_mul_ps(_mm512_cvtepi32_ps(lo), load_ps(xb)));
        acc = _mm512_fmadd_ps(s, _mm512_set1_ps(half(b, 0)), acc);
    }
    _mm512_reduce_add_ps(acc)
}

/// The 8 sub-block scales and 8 mins of a Q4_K/Q5_K block (12 bytes of 6-bit fields, ggml
/// `get_scale_min_k4`), times d and dmin, as [d·sc0..7, dmin·m0..7]. The bit shuffling is
/// done on three 32-bit words at once (the rearrangement ggml's own x86 kernels use), and the
/// products in one vector: per-sub-block scalar decoding was a third of the kernel's time.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,fma,f16c")]
fn scales_k4(b: &[u8]) -> __m512 {
    const K1: u32 = 0x3f3f_3f3f;
    const K2: u32 = 0x0f0f_0f0f;
    const K3: u32 = 0x0303_0303;
    let w = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let (a0, a1, a2) = (w(4), w(8), w(12));
    let sc_lo = a0 & K1;
    let sc_hi = (a2 & K2) | (((a0 >> 6) & K3) << 4);
    let m_lo = a1 & K1;
    let m_hi = ((a2 >> 4) & K2) | (((a1 >> 6) & K3) << 4);
    let v = _mm_set_epi32(m_hi as i32, m_lo as i32, sc_hi as i32, sc_lo as i32);
    let f = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(v));
    let dm = _mm_cvtph_ps(_mm_cvtsi32_si128(w(0) as i32)); // [d, dmin, _, _]
    let d = _mm512_broadcastss_ps(dm);
    let dmin = _mm512_broadcastss_ps(_mm_movehdup_ps(dm));
    _mm512_mul_ps(f, _mm512_mask_blend_ps(0xff00, d, dmin))
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,fma,f16c")]
fn q4k(row: &[u8], x: &[f32], xs: &[f32]) -> f32 {
    let mut acc = _mm512_setzero_ps();
    let mut mins = _mm256_setzero_ps();
    let m15 = _mm512_set1_epi32(15);
    let mut sc = [0f32; 16];
    for ((b, xb), sx) in row.chunks_exact(144).zip(x.chunks_exact(256)).zip(xs.chunks_exact(8)) {
        let scales = scales_k4(b);
        store_ps(&mut sc, scales);
        // Σ_j dmin·m_j·Σx_j, eight sub-blocks at once.
        mins = _mm256_fmadd_ps(_mm512_extractf32x8_ps::<1>(scales), load_ps8(sx), mins);
        let qs = &b[16..144];
        for c in 0..4 {
            // Sub-blocks 2c (low nibbles) and 2c+1 (high) share the 32 bytes qs[32c..].
            let q = &qs[32 * c..];
            let xa = &xb[64 * c..];
            let va = u8x16(q);
            let vb = u8x16(&q[16..]);
            let lo = _mm512_fmadd_ps(
                _mm512_cvtepi32_ps(_mm512_and_si512(vb, m15)),
                load_ps(&xa[16..]),
                _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_and_si512(va, m15)), load_ps(xa)),
            );
            let hi = _mm512_fmadd_ps(
                _mm512_cvtepi32_ps(_mm512_srli_epi32::<4>(vb)),
                load_ps(&xa[48..]),
                _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32::<4>(va)), load_ps(&xa[32..])),
            );
            acc = _mm512_fmadd_ps(lo, _mm512_set1_ps(sc[2 * c]), acc);
            acc = _mm512_fmadd_ps(hi, _mm512_set1_ps(sc[2 * c + 1]), acc);
        }
    }
    let m = _mm256_add_ps(mins, _mm256_permute2f128_ps::<1>(mins, mins));
    let m = _mm_add_ps(_mm256_castps256_ps128(m), _mm_movehl_ps(_mm256_castps256_ps128(m), _mm256_castps256_ps128(m)));
    let m = _mm_cvtss_f32(m) + _mm_cvtss_f32(_mm_movehdup_ps(m));
    _mm512_reduce_add_ps(acc) - m
}

/// 8 f32 from the start of `x` (checked), unaligned.
#[inline(always)]
fn load_ps8(x: &[f32]) -> __m256 {
    assert!(x.len() >= 8);
    // SAFETY: `x` holds at least 8 f32 (checked above); `loadu` has no alignment requirement.
    unsafe { _mm256_loadu_ps(x.as_ptr()) }
}

/// Q4_1 (d, m, 16 bytes of nibbles) and Q5_1 (d, m, 32 fifth bits, nibbles): value =
/// d·q + m, so the dot is d·Σq·x + m·Σx with Σx per block precomputed (`xs`).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,fma")]
fn q4_1_q5_1(ty: QType, row: &[u8], x: &[f32], xs: &[f32]) -> f32 {
    let mut acc = _mm512_setzero_ps();
    let mut min = 0f32;
    let (m15, sixteen) = (_mm512_set1_epi32(15), _mm512_set1_epi32(16));
    let (bb, qs_at) = if ty == QType::Q4_1 { (20, 4) } else { (24, 8) };
    for ((b, xb), &sx) in row.chunks_exact(bb).zip(x.chunks_exact(32)).zip(xs) {
        let v = u8x16(&b[qs_at..]);
        let (mut lo, mut hi) = (_mm512_and_si512(v, m15), _mm512_srli_epi32::<4>(v));
        if ty == QType::Q5_1 {
            let qh = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
            lo = _mm512_mask_add_epi32(lo, qh as u16, lo, sixteen);
            hi = _mm512_mask_add_epi32(hi, (qh >> 16) as u16, hi, sixteen);
        }
        let s = _mm512_fmadd_ps(_mm512_cvtepi32_ps(hi), load_ps(&xb[16..]), _mm512_mul_ps(_mm512_cvtepi32_ps(lo), load_ps(xb)));
        acc = _mm512_fmadd_ps(s, _mm512_set1_ps(half(b, 0)), acc);
        min += half(b, 2) * sx;
    }
    _mm512_reduce_add_ps(acc) + min
}

/// Q5_K: Q4_K plus a fifth bit per value (value l of sub-block j: bit j of qh[l]).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,fma,f16c")]
fn q5k(row: &[u8], x: &[f32], xs: &[f32]) -> f32 {
    let mut acc = _mm512_setzero_ps();
    let mut mins = _mm256_setzero_ps();
    let (m15, m16) = (_mm512_set1_epi32(15), _mm512_set1_epi32(16));
    let mut sc = [0f32; 16];
    for ((b, xb), sx) in row.chunks_exact(176).zip(x.chunks_exact(256)).zip(xs.chunks_exact(8)) {
        let scales = scales_k4(b);
        store_ps(&mut sc, scales);
        mins = _mm256_fmadd_ps(_mm512_extractf32x8_ps::<1>(scales), load_ps8(sx), mins);
        let (qh, qs) = (&b[16..48], &b[48..176]);
        // Fifth bits, moved to bit 4 as sub-block j comes up: (qh >> j) & 1 << 4.
        let (mut ha, mut hb) = (_mm512_slli_epi32::<4>(u8x16(qh)), _mm512_slli_epi32::<4>(u8x16(&qh[16..])));
        for c in 0..4 {
            let q = &qs[32 * c..];
            let (va, vb) = (u8x16(q), u8x16(&q[16..]));
            for (j, high) in [(2 * c, false), (2 * c + 1, true)] {
                let nib = |v: __m512i| if high { _mm512_srli_epi32::<4>(v) } else { _mm512_and_si512(v, m15) };
                let qa = _mm512_or_si512(nib(va), _mm512_and_si512(ha, m16));
                let qb = _mm512_or_si512(nib(vb), _mm512_and_si512(hb, m16));
                ha = _mm512_srli_epi32::<1>(ha);
                hb = _mm512_srli_epi32::<1>(hb);
                let xa = &xb[32 * j..];
                let t = _mm512_fmadd_ps(_mm512_cvtepi32_ps(qb), load_ps(&xa[16..]), _mm512_mul_ps(_mm512_cvtepi32_ps(qa), load_ps(xa)));
                acc = _mm512_fmadd_ps(t, _mm512_set1_ps(sc[j]), acc);
            }
        }
    }
    let m = _mm256_add_ps(mins, _mm256_permute2f128_ps::<1>(mins, mins));
    let m = _mm_add_ps(_mm256_castps256_ps128(m), _mm_movehl_ps(_mm256_castps256_ps128(m), _mm256_castps256_ps128(m)));
    let m = _mm_cvtss_f32(m) + _mm_cvtss_f32(_mm_movehdup_ps(m));
    _mm512_reduce_add_ps(acc) - m
}

#[inline(always)]
fn scale_min(j: usize, s: &[u8]) -> (f32, f32) {
    if j < 4 {
        ((s[j] & 63) as f32, (s[j + 4] & 63) as f32)
    } else {
        (((s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4)) as f32, ((s[j + 4] >> 4) | ((s[j] >> 6) << 4)) as f32)
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,fma,f16c")]
fn q6k(row: &[u8], x: &[f32]) -> f32 {
    let (mut a0, mut a1) = (_mm512_setzero_ps(), _mm512_setzero_ps());
    let (m15, m30, c32) = (_mm512_set1_epi32(15), _mm512_set1_epi32(0x30), _mm512_set1_epi32(32));
    let mut scale = [0f32; 16];
    for (b, xb) in row.chunks_exact(210).zip(x.chunks_exact(256)) {
        let (ql, qh) = (&b[0..128], &b[128..192]);
        // d · the 16 signed 8-bit sub-block scales, once per block.
        let d = _mm512_set1_ps(half(b, 208));
        store_ps(&mut scale, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(load16(&b[192..]))), d));
        for h in 0..2 {
            for i in 0..2 {
                // 16 positions n = 16i.. of each of the four 32-value groups of half h.
                let lo_a = u8x16(&ql[64 * h + 16 * i..]); // groups 0 (low nibble), 2 (high)
                let lo_b = u8x16(&ql[64 * h + 32 + 16 * i..]); // groups 1, 3
                let hb = u8x16(&qh[32 * h + 16 * i..]);
                let xt = &xb[128 * h + 16 * i..];
                // Bits 2t..2t+2 of qh as bits 4..6 of the value, shifts by constants.
                let q0 = _mm512_or_si512(_mm512_and_si512(lo_a, m15), _mm512_and_si512(_mm512_slli_epi32::<4>(hb), m30));
                let q1 = _mm512_or_si512(_mm512_and_si512(lo_b, m15), _mm512_and_si512(_mm512_slli_epi32::<2>(hb), m30));
                let q2 = _mm512_or_si512(_mm512_srli_epi32::<4>(lo_a), _mm512_and_si512(hb, m30));
                let q3 = _mm512_or_si512(_mm512_srli_epi32::<4>(lo_b), _mm512_and_si512(_mm512_srli_epi32::<2>(hb), m30));
                let f = |q: __m512i| _mm512_cvtepi32_ps(_mm512_sub_epi32(q, c32));
                let s = |t: usize| _mm512_set1_ps(scale[8 * h + 2 * t + i]);
                a0 = _mm512_fmadd_ps(_mm512_mul_ps(f(q0), load_ps(xt)), s(0), a0);
                a1 = _mm512_fmadd_ps(_mm512_mul_ps(f(q1), load_ps(&xt[32..])), s(1), a1);
                a0 = _mm512_fmadd_ps(_mm512_mul_ps(f(q2), load_ps(&xt[64..])), s(2), a0);
                a1 = _mm512_fmadd_ps(_mm512_mul_ps(f(q3), load_ps(&xt[96..])), s(3), a1);
            }
        }
    }
    _mm512_reduce_add_ps(_mm512_add_ps(a0, a1))
}

/// 16 f32 to the start of `o` (checked), unaligned.
#[inline(always)]
fn store_ps(o: &mut [f32], v: __m512) {
    assert!(o.len() >= 16);
    // SAFETY: `o` has room for 16 f32 (checked above); `storeu` has no alignment requirement.
    unsafe { _mm512_storeu_ps(o.as_mut_ptr(), v) }
}

/// Dequantize each stored row into `k` values of `out` (see `dispatch::dequant_rows`): the
/// prefill path, which feeds the dequantized tiles to faer.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,fma")]
pub(crate) fn dequant_rows(ty: QType, rows: &[u8], row_bytes: usize, k: usize, out: &mut [f32]) {
    let (m15, m3) = (_mm512_set1_epi32(15), _mm512_set1_epi32(3));
    for (r, o) in rows.chunks_exact(row_bytes).zip(out.chunks_exact_mut(k)) {
        match ty {
            QType::Q8_0 => {
                for (b, o) in r.chunks_exact(34).zip(o.chunks_exact_mut(32)) {
                    let d = _mm512_set1_ps(half(b, 0));
                    store_ps(o, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(load16(&b[2..]))), d));
                    store_ps(&mut o[16..], _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(load16(&b[18..]))), d));
                }
            }
            QType::Q4_0 | QType::Q5_0 => {
                let (bb, qs_at, off) = if ty == QType::Q4_0 { (18, 2, 8) } else { (22, 6, 16) };
                let off = _mm512_set1_epi32(off);
                for (b, o) in r.chunks_exact(bb).zip(o.chunks_exact_mut(32)) {
                    let d = _mm512_set1_ps(half(b, 0));
                    let v = u8x16(&b[qs_at..]);
                    let (mut lo, mut hi) = (_mm512_and_si512(v, m15), _mm512_srli_epi32::<4>(v));
                    if ty == QType::Q5_0 {
                        let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
                        lo = _mm512_mask_add_epi32(lo, qh as u16, lo, off);
                        hi = _mm512_mask_add_epi32(hi, (qh >> 16) as u16, hi, off);
                    }
                    store_ps(o, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(lo, off)), d));
                    store_ps(&mut o[16..], _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(hi, off)), d));
                }
            }
            QType::Q4K => {
                for (b, o) in r.chunks_exact(144).zip(o.chunks_exact_mut(256)) {
                    let (d, dmin) = (half(b, 0), half(b, 2));
                    let (s, qs) = (&b[4..16], &b[16..144]);
                    for c in 0..4 {
                        let q = &qs[32 * c..];
                        let (va, vb) = (u8x16(q), u8x16(&q[16..]));
                        for (j, sh) in [(2 * c, 0), (2 * c + 1, 4)] {
                            let (sc, m) = scale_min(j, s);
                            let (dl, ml) = (_mm512_set1_ps(d * sc), _mm512_set1_ps(-(dmin * m)));
                            let nib = |v: __m512i| {
                                let v = if sh == 0 { v } else { _mm512_srli_epi32::<4>(v) };
                                _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_and_si512(v, m15)), dl, ml)
                            };
                            store_ps(&mut o[32 * j..], nib(va));
                            store_ps(&mut o[32 * j + 16..], nib(vb));
                        }
                    }
                }
            }
            QType::Q6K => {
                let c32 = _mm512_set1_epi32(32);
                for (b, o) in r.chunks_exact(210).zip(o.chunks_exact_mut(256)) {
                    let (ql, qh, sc) = (&b[0..128], &b[128..192], &b[192..208]);
                    let d = half(b, 208);
                    for h in 0..2 {
                        for i in 0..2 {
                            let lo_a = u8x16(&ql[64 * h + 16 * i..]);
                            let lo_b = u8x16(&ql[64 * h + 32 + 16 * i..]);
                            let hb = u8x16(&qh[32 * h + 16 * i..]);
                            for (t, nib) in [
                                (0usize, _mm512_and_si512(lo_a, m15)),
                                (1, _mm512_and_si512(lo_b, m15)),
                                (2, _mm512_srli_epi32::<4>(lo_a)),
                                (3, _mm512_srli_epi32::<4>(lo_b)),
                            ] {
                                let high2 = _mm512_and_si512(_mm512_srlv_epi32(hb, _mm512_set1_epi32(2 * t as i32)), m3);
                                let q = _mm512_sub_epi32(_mm512_or_si512(nib, _mm512_slli_epi32::<4>(high2)), c32);
                                let scale = _mm512_set1_ps(d * sc[8 * h + 2 * t + i] as i8 as f32);
                                store_ps(&mut o[128 * h + 32 * t + 16 * i..], _mm512_mul_ps(_mm512_cvtepi32_ps(q), scale));
                            }
                        }
                    }
                }
            }
            QType::Q4_1 | QType::Q5_1 => {
                let (bb, qs_at) = if ty == QType::Q4_1 { (20, 4) } else { (24, 8) };
                let sixteen = _mm512_set1_epi32(16);
                for (b, o) in r.chunks_exact(bb).zip(o.chunks_exact_mut(32)) {
                    let (d, m) = (_mm512_set1_ps(half(b, 0)), _mm512_set1_ps(half(b, 2)));
                    let v = u8x16(&b[qs_at..]);
                    let (mut lo, mut hi) = (_mm512_and_si512(v, m15), _mm512_srli_epi32::<4>(v));
                    if ty == QType::Q5_1 {
                        let qh = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
                        lo = _mm512_mask_add_epi32(lo, qh as u16, lo, sixteen);
                        hi = _mm512_mask_add_epi32(hi, (qh >> 16) as u16, hi, sixteen);
                    }
                    store_ps(o, _mm512_fmadd_ps(_mm512_cvtepi32_ps(lo), d, m));
                    store_ps(&mut o[16..], _mm512_fmadd_ps(_mm512_cvtepi32_ps(hi), d, m));
                }
            }
            QType::Q5K => {
                let one = _mm512_set1_epi32(1);
                for (b, o) in r.chunks_exact(176).zip(o.chunks_exact_mut(256)) {
                    let (d, dmin) = (half(b, 0), half(b, 2));
                    let (s, qh, qs) = (&b[4..16], &b[16..48], &b[48..176]);
                    let (ha, hb) = (u8x16(qh), u8x16(&qh[16..]));
                    for c in 0..4 {
                        let q = &qs[32 * c..];
                        let (va, vb) = (u8x16(q), u8x16(&q[16..]));
                        for (j, sh) in [(2 * c, 0i32), (2 * c + 1, 4)] {
                            let (sc, m) = scale_min(j, s);
                            let (dl, ml) = (_mm512_set1_ps(d * sc), _mm512_set1_ps(-(dmin * m)));
                            let bit = _mm512_set1_epi32(j as i32);
                            let val = |v: __m512i, h: __m512i| {
                                let v = _mm512_and_si512(_mm512_srlv_epi32(v, _mm512_set1_epi32(sh)), m15);
                                let fifth = _mm512_slli_epi32::<4>(_mm512_and_si512(_mm512_srlv_epi32(h, bit), one));
                                _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_or_si512(v, fifth)), dl, ml)
                            };
                            store_ps(&mut o[32 * j..], val(va, ha));
                            store_ps(&mut o[32 * j + 16..], val(vb, hb));
                        }
                    }
                }
            }
            _ => unreachable!("no AVX-512 kernel for {ty}"),
        }
    }
}
