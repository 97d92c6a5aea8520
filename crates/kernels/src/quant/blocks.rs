//! The GGUF block formats, decoded in f32: one function per block type that dequantizes a
//! row, and one that takes the dot product of a row with f32 activations without ever
//! writing the dequantized row out (fused dequant + dot).
//!
//! Layouts are those of ggml's `ggml-common.h` (`block_q4_0` ... `block_q8_K`), as mirrored
//! in candle's `quantized/k_quants.rs`; the decoding rules are those of ggml's
//! `dequantize_row_*` in `ggml-quants.c`. The code here is written anew from those
//! descriptions, shaped so that LLVM vectorizes it: every inner loop runs over 16 or 32
//! independent lanes with no cross-lane dependency, and partial sums stay in 16-lane
//! arrays until the end of a row. The functions are `#[inline(always)]` and generic over
//! `FMA`, so that [`super::dispatch`] instantiates them once per instruction set (AVX-512,
//! AVX2 + FMA, NEON, baseline) inside `#[target_feature]` functions: the same source
//! becomes 16-lane AVX-512 code on one machine and 8-lane AVX2 code on another.
//!
//! Activations and accumulation stay f32 (unlike ggml, which quantizes activations to
//! 8 bits for its integer dot products), so results equal the dense dequantized model's up
//! to summation order.

// Lane-indexed loops (`for l in 0..16 { s[l] = … x[l + 16] … }`) are the shape LLVM
// vectorizes; iterator chains over several slices at offsets would hide it.
#![allow(clippy::needless_range_loop)]

use super::QType;

/// `a * b + c`, fused where the instruction set has FMA (a libm call otherwise).
#[inline(always)]
fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// IEEE half to f32 without a table or a branch on the common path: the exponent is
/// rebased by multiplying by 2^112, which also turns half subnormals into the right f32.
#[inline(always)]
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    let bits = ((h & 0x7fff) as u32) << 13;
    let mag = if h & 0x7c00 == 0x7c00 {
        f32::from_bits(bits | 0x7f80_0000) // inf / nan keep their payload
    } else {
        f32::from_bits(bits) * f32::from_bits(0x7780_0000) // 2^112
    };
    if h & 0x8000 != 0 {
        -mag
    } else {
        mag
    }
}

#[inline(always)]
fn half(b: &[u8], at: usize) -> f32 {
    f16_to_f32(u16::from_le_bytes([b[at], b[at + 1]]))
}

/// The 6-bit scale and min of sub-block `j` (0..8) of a Q4_K/Q5_K block, packed in 12 bytes
/// (ggml `get_scale_min_k4`).
#[inline(always)]
fn scale_min_k4(j: usize, s: &[u8]) -> (f32, f32) {
    if j < 4 {
        ((s[j] & 63) as f32, (s[j + 4] & 63) as f32)
    } else {
        let sc = (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4);
        let m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
        (sc as f32, m as f32)
    }
}

/// 16 running partial sums, reduced once per row.
type Lanes = [f32; 16];

#[inline(always)]
fn reduce(acc: &Lanes) -> f32 {
    // Pairwise, so the order does not depend on the vector width.
    let mut v = *acc;
    let mut n = 16;
    while n > 1 {
        n /= 2;
        for i in 0..n {
            v[i] += v[i + n];
        }
    }
    v[0]
}

/// `acc += scale * s`, lane by lane.
#[inline(always)]
fn add_scaled<const FMA: bool>(acc: &mut Lanes, s: &Lanes, scale: f32) {
    for l in 0..16 {
        acc[l] = madd::<FMA>(s[l], scale, acc[l]);
    }
}

/// Σ of each 32-value block of `x`: the min/offset terms of Q4_1, Q5_1, Q4_K, Q5_K are
/// `m · Σx` per sub-block, so they cost one multiply per 32 values instead of one per value.
#[inline(always)]
pub(crate) fn block_sums(x: &[f32], out: &mut Vec<f32>) {
    out.clear();
    out.extend(x.chunks_exact(32).map(|c| {
        let mut s = [0f32; 16];
        for l in 0..16 {
            s[l] = c[l] + c[l + 16];
        }
        reduce(&s)
    }));
}

/// Dot product of one stored row (`k` values in `ty`'s blocks) with `x` (`k` values);
/// `xs` holds [`block_sums`] of `x`.
#[inline(always)]
pub(crate) fn dot<const FMA: bool>(ty: QType, row: &[u8], x: &[f32], xs: &[f32]) -> f32 {
    let mut acc: Lanes = [0.0; 16];
    let mut min = 0f32; // Σ over sub-blocks of m · Σx
    match ty {
        QType::F32 => {
            for (b, xb) in row.chunks_exact(64).zip(x.chunks_exact(16)) {
                for l in 0..16 {
                    let w = f32::from_le_bytes([b[4 * l], b[4 * l + 1], b[4 * l + 2], b[4 * l + 3]]);
                    acc[l] = madd::<FMA>(w, xb[l], acc[l]);
                }
            }
        }
        QType::F16 => {
            for (b, xb) in row.chunks_exact(32).zip(x.chunks_exact(16)) {
                for l in 0..16 {
                    acc[l] = madd::<FMA>(half(b, 2 * l), xb[l], acc[l]);
                }
            }
        }
        QType::BF16 => {
            for (b, xb) in row.chunks_exact(32).zip(x.chunks_exact(16)) {
                for l in 0..16 {
                    let w = f32::from_bits((u16::from_le_bytes([b[2 * l], b[2 * l + 1]]) as u32) << 16);
                    acc[l] = madd::<FMA>(w, xb[l], acc[l]);
                }
            }
        }
        QType::Q4_0 => {
            // d: f16, qs[16]: value j = d·(low nibble of qs[j] − 8), value j+16 = d·(high − 8).
            for (b, xb) in row.chunks_exact(18).zip(x.chunks_exact(32)) {
                let qs = &b[2..18];
                let mut s = [0f32; 16];
                for l in 0..16 {
                    let lo = (qs[l] & 15) as i32 - 8;
                    let hi = (qs[l] >> 4) as i32 - 8;
                    s[l] = madd::<FMA>(hi as f32, xb[l + 16], lo as f32 * xb[l]);
                }
                add_scaled::<FMA>(&mut acc, &s, half(b, 0));
            }
        }
        QType::Q4_1 => {
            // d, m: f16, qs[16]: value = d·nibble + m.
            for ((b, xb), &sx) in row.chunks_exact(20).zip(x.chunks_exact(32)).zip(xs) {
                let qs = &b[4..20];
                let mut s = [0f32; 16];
                for l in 0..16 {
                    s[l] = madd::<FMA>((qs[l] >> 4) as f32, xb[l + 16], (qs[l] & 15) as f32 * xb[l]);
                }
                add_scaled::<FMA>(&mut acc, &s, half(b, 0));
                min = madd::<FMA>(half(b, 2), sx, min);
            }
        }
        QType::Q5_0 => {
            // d: f16, qh: u32 (fifth bits), qs[16]: value = d·(nibble | bit << 4 − 16).
            for (b, xb) in row.chunks_exact(22).zip(x.chunks_exact(32)) {
                let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
                let qs = &b[6..22];
                let mut s = [0f32; 16];
                for l in 0..16 {
                    let lo = ((qs[l] & 15) as u32 | ((qh >> l) & 1) << 4) as i32 - 16;
                    let hi = ((qs[l] >> 4) as u32 | ((qh >> (l + 16)) & 1) << 4) as i32 - 16;
                    s[l] = madd::<FMA>(hi as f32, xb[l + 16], lo as f32 * xb[l]);
                }
                add_scaled::<FMA>(&mut acc, &s, half(b, 0));
            }
        }
        QType::Q5_1 => {
            // d, m: f16, qh: u32, qs[16]: value = d·(nibble | bit << 4) + m.
            for ((b, xb), &sx) in row.chunks_exact(24).zip(x.chunks_exact(32)).zip(xs) {
                let qh = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
                let qs = &b[8..24];
                let mut s = [0f32; 16];
                for l in 0..16 {
                    let lo = (qs[l] & 15) as u32 | ((qh >> l) & 1) << 4;
                    let hi = (qs[l] >> 4) as u32 | ((qh >> (l + 16)) & 1) << 4;
                    s[l] = madd::<FMA>(hi as f32, xb[l + 16], lo as f32 * xb[l]);
                }
                add_scaled::<FMA>(&mut acc, &s, half(b, 0));
                min = madd::<FMA>(half(b, 2), sx, min);
            }
        }
        QType::Q8_0 => {
            // d: f16, qs[32]: i8; value = d·q.
            for (b, xb) in row.chunks_exact(34).zip(x.chunks_exact(32)) {
                let qs = &b[2..34];
                let mut s = [0f32; 16];
                for l in 0..16 {
                    s[l] = madd::<FMA>(qs[l + 16] as i8 as f32, xb[l + 16], qs[l] as i8 as f32 * xb[l]);
                }
                add_scaled::<FMA>(&mut acc, &s, half(b, 0));
            }
        }
        QType::Q4K => {
            // d, dmin: f16, scales[12] (8 × 6-bit scale and min), qs[128]. Sub-block j of 32
            // values reads the low (j even) or high (j odd) nibbles of qs[32·(j/2)..][..32]:
            // value = d·sc_j·q − dmin·m_j.
            for ((b, xb), sx) in row.chunks_exact(144).zip(x.chunks_exact(256)).zip(xs.chunks_exact(8)) {
                let (d, dmin) = (half(b, 0), half(b, 2));
                let (scales, qs) = (&b[4..16], &b[16..144]);
                for j in 0..8 {
                    let (sc, m) = scale_min_k4(j, scales);
                    let q = &qs[32 * (j / 2)..32 * (j / 2) + 32];
                    let shift = 4 * (j % 2) as u32;
                    let xj = &xb[32 * j..32 * j + 32];
                    let mut s = [0f32; 16];
                    for l in 0..16 {
                        let a = (q[l] >> shift) & 15;
                        let c = (q[l + 16] >> shift) & 15;
                        s[l] = madd::<FMA>(c as f32, xj[l + 16], a as f32 * xj[l]);
                    }
                    add_scaled::<FMA>(&mut acc, &s, d * sc);
                    min = madd::<FMA>(dmin * m, sx[j], min);
                }
            }
            min = -min;
        }
        QType::Q5K => {
            // d, dmin: f16, scales[12], qh[32], qs[128]: as Q4_K, plus a fifth bit for value
            // l of sub-block j in bit j of qh[l].
            for ((b, xb), sx) in row.chunks_exact(176).zip(x.chunks_exact(256)).zip(xs.chunks_exact(8)) {
                let (d, dmin) = (half(b, 0), half(b, 2));
                let (scales, qh, qs) = (&b[4..16], &b[16..48], &b[48..176]);
                for j in 0..8 {
                    let (sc, m) = scale_min_k4(j, scales);
                    let q = &qs[32 * (j / 2)..32 * (j / 2) + 32];
                    let shift = 4 * (j % 2) as u32;
                    let xj = &xb[32 * j..32 * j + 32];
                    let mut s = [0f32; 16];
                    for l in 0..16 {
                        let a = ((q[l] >> shift) & 15) | (((qh[l] >> j) & 1) << 4);
                        let c = ((q[l + 16] >> shift) & 15) | (((qh[l + 16] >> j) & 1) << 4);
                        s[l] = madd::<FMA>(c as f32, xj[l + 16], a as f32 * xj[l]);
                    }
                    add_scaled::<FMA>(&mut acc, &s, d * sc);
                    min = madd::<FMA>(dmin * m, sx[j], min);
                }
            }
            min = -min;
        }
        QType::Q6K => {
            // ql[128], qh[64], scales[16]: i8, d: f16. Each half (128 values) has four groups
            // t of 32: value l of group t is (4 bits of ql[64h + 32(t%2) + l] (low nibble for
            // t < 2) | 2 bits of qh[32h + l] at 2t) − 32, scaled by d·scales[8h + 2t + l/16].
            for (b, xb) in row.chunks_exact(210).zip(x.chunks_exact(256)) {
                let (ql, qh, sc) = (&b[0..128], &b[128..192], &b[192..208]);
                let d = half(b, 208);
                for h in 0..2 {
                    for t in 0..4 {
                        let lo = &ql[64 * h + 32 * (t % 2)..][..32];
                        let hi = &qh[32 * h..][..32];
                        let xt = &xb[128 * h + 32 * t..][..32];
                        for i in 0..2 {
                            let mut s = [0f32; 16];
                            for l in 0..16 {
                                let n = 16 * i + l;
                                let q = ((lo[n] >> (4 * (t / 2))) & 15) | (((hi[n] >> (2 * t)) & 3) << 4);
                                s[l] = (q as i32 - 32) as f32 * xt[n];
                            }
                            add_scaled::<FMA>(&mut acc, &s, d * sc[8 * h + 2 * t + i] as i8 as f32);
                        }
                    }
                }
            }
        }
        QType::Q8K => {
            // d: f32, qs[256]: i8, bsums[16]: i16 (unused here); value = d·q.
            for (b, xb) in row.chunks_exact(292).zip(x.chunks_exact(256)) {
                let d = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                let qs = &b[4..260];
                let mut s = [0f32; 16];
                for c in 0..16 {
                    for l in 0..16 {
                        s[l] = madd::<FMA>(qs[16 * c + l] as i8 as f32, xb[16 * c + l], s[l]);
                    }
                }
                add_scaled::<FMA>(&mut acc, &s, d);
            }
        }
    }
    reduce(&acc) + min
}

/// Dequantize one stored row into `out` (`k` values).
#[inline(always)]
pub(crate) fn dequant<const FMA: bool>(ty: QType, row: &[u8], out: &mut [f32]) {
    match ty {
        QType::F32 => {
            for (o, b) in out.iter_mut().zip(row.chunks_exact(4)) {
                *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
        QType::F16 => {
            for (o, b) in out.iter_mut().zip(row.chunks_exact(2)) {
                *o = f16_to_f32(u16::from_le_bytes([b[0], b[1]]));
            }
        }
        QType::BF16 => {
            for (o, b) in out.iter_mut().zip(row.chunks_exact(2)) {
                *o = f32::from_bits((u16::from_le_bytes([b[0], b[1]]) as u32) << 16);
            }
        }
        QType::Q4_0 => {
            for (b, o) in row.chunks_exact(18).zip(out.chunks_exact_mut(32)) {
                let d = half(b, 0);
                for l in 0..16 {
                    o[l] = ((b[2 + l] & 15) as i32 - 8) as f32 * d;
                    o[l + 16] = ((b[2 + l] >> 4) as i32 - 8) as f32 * d;
                }
            }
        }
        QType::Q4_1 => {
            for (b, o) in row.chunks_exact(20).zip(out.chunks_exact_mut(32)) {
                let (d, m) = (half(b, 0), half(b, 2));
                for l in 0..16 {
                    o[l] = madd::<FMA>((b[4 + l] & 15) as f32, d, m);
                    o[l + 16] = madd::<FMA>((b[4 + l] >> 4) as f32, d, m);
                }
            }
        }
        QType::Q5_0 => {
            for (b, o) in row.chunks_exact(22).zip(out.chunks_exact_mut(32)) {
                let d = half(b, 0);
                let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
                for l in 0..16 {
                    let lo = ((b[6 + l] & 15) as u32 | ((qh >> l) & 1) << 4) as i32 - 16;
                    let hi = ((b[6 + l] >> 4) as u32 | ((qh >> (l + 16)) & 1) << 4) as i32 - 16;
                    o[l] = lo as f32 * d;
                    o[l + 16] = hi as f32 * d;
                }
            }
        }
        QType::Q5_1 => {
            for (b, o) in row.chunks_exact(24).zip(out.chunks_exact_mut(32)) {
                let (d, m) = (half(b, 0), half(b, 2));
                let qh = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
                for l in 0..16 {
                    let lo = (b[8 + l] & 15) as u32 | ((qh >> l) & 1) << 4;
                    let hi = (b[8 + l] >> 4) as u32 | ((qh >> (l + 16)) & 1) << 4;
                    o[l] = madd::<FMA>(lo as f32, d, m);
                    o[l + 16] = madd::<FMA>(hi as f32, d, m);
                }
            }
        }
        QType::Q8_0 => {
            for (b, o) in row.chunks_exact(34).zip(out.chunks_exact_mut(32)) {
                let d = half(b, 0);
                for l in 0..32 {
                    o[l] = b[2 + l] as i8 as f32 * d;
                }
            }
        }
        QType::Q4K | QType::Q5K => {
            let (size, qs_at) = if ty == QType::Q4K { (144, 16) } else { (176, 48) };
            for (b, o) in row.chunks_exact(size).zip(out.chunks_exact_mut(256)) {
                let (d, dmin) = (half(b, 0), half(b, 2));
                let scales = &b[4..16];
                let qs = &b[qs_at..qs_at + 128];
                for j in 0..8 {
                    let (sc, m) = scale_min_k4(j, scales);
                    let (dl, ml) = (d * sc, -(dmin * m));
                    let q = &qs[32 * (j / 2)..32 * (j / 2) + 32];
                    let shift = 4 * (j % 2) as u32;
                    let oj = &mut o[32 * j..32 * j + 32];
                    if ty == QType::Q4K {
                        for l in 0..32 {
                            oj[l] = madd::<FMA>(((q[l] >> shift) & 15) as f32, dl, ml);
                        }
                    } else {
                        let qh = &b[16..48];
                        for l in 0..32 {
                            let v = ((q[l] >> shift) & 15) | (((qh[l] >> j) & 1) << 4);
                            oj[l] = madd::<FMA>(v as f32, dl, ml);
                        }
                    }
                }
            }
        }
        QType::Q6K => {
            for (b, o) in row.chunks_exact(210).zip(out.chunks_exact_mut(256)) {
                let (ql, qh, sc) = (&b[0..128], &b[128..192], &b[192..208]);
                let d = half(b, 208);
                for h in 0..2 {
                    for t in 0..4 {
                        let lo = &ql[64 * h + 32 * (t % 2)..][..32];
                        let hi = &qh[32 * h..][..32];
                        let ot = &mut o[128 * h + 32 * t..][..32];
                        for n in 0..32 {
                            let q = ((lo[n] >> (4 * (t / 2))) & 15) | (((hi[n] >> (2 * t)) & 3) << 4);
                            ot[n] = (q as i32 - 32) as f32 * (d * sc[8 * h + 2 * t + n / 16] as i8 as f32);
                        }
                    }
                }
            }
        }
        QType::Q8K => {
            for (b, o) in row.chunks_exact(292).zip(out.chunks_exact_mut(256)) {
                let d = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                for l in 0..256 {
                    o[l] = b[4 + l] as i8 as f32 * d;
                }
            }
        }
    }
}
