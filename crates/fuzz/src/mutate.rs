//! Byte mutations of the kind AFL's "havoc" stage and libFuzzer apply, over a pool of real
//! files. Written here because the maintained fuzz engines (libFuzzer via `cargo fuzz`, AFL)
//! need instrumented nightly builds of the whole stack, while this driver must run on the
//! stable toolchain of CI; `arbitrary`/`proptest` build structured values, not mutations of
//! a real checkpoint's bytes, which is what finds the bugs of a file parser.

use rand::rngs::SmallRng;
use rand::{Rng, RngCore};

/// Integers that sit on the edges of what parsers check: zero, one, sign and width limits,
/// and sizes far beyond any file.
const EDGES: [u64; 14] =
    [0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0xffff, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 1 << 40, 0x7fff_ffff_ffff_ffff, u64::MAX];

/// Pieces of text that change what a JSON (or JSONL) parser sees.
const TEXT_TOKENS: [&str; 24] = [
    "\"",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\n",
    "null",
    "true",
    "-1",
    "0",
    "1e999",
    "-1e999",
    "NaN",
    "18446744073709551616",
    "4294967296",
    "\\ud800",
    "\\u0000",
    "\u{feff}",
    "../../../../etc/passwd",
    "/etc/passwd",
    "\u{1F600}",
    "\"\":",
];

/// Mutates `data` in place by 1 to 8 stacked edits; `pool` supplies splice material,
/// `fields` the `(offset, width)` of integers of `data`'s format (set to edge values).
pub fn mutate(rng: &mut SmallRng, data: &mut Vec<u8>, pool: &[Vec<u8>], text: bool, fields: &[(usize, usize)], max_len: usize) {
    let n = 1 << rng.random_range(0..4);
    for _ in 0..n {
        if !fields.is_empty() && rng.random_bool(0.3) {
            set_field(rng, data, fields);
            continue;
        }
        // Binary formats get text edits too, rarely: their headers are often JSON.
        let texty = text || rng.random_bool(0.1);
        let choice = rng.random_range(0..if texty { 12 } else { 10 });
        edit(rng, data, pool, choice);
    }
    data.truncate(max_len);
}

/// One integer field set to an edge value, a small count, or nudged by one.
fn set_field(rng: &mut SmallRng, data: &mut [u8], fields: &[(usize, usize)]) {
    let (at, width) = fields[rng.random_range(0..fields.len())];
    let Some(slot) = data.get_mut(at..at + width) else { return };
    let mut old = [0u8; 8];
    old[..width].copy_from_slice(slot);
    let v = match rng.random_range(0..3) {
        0 => EDGES[rng.random_range(0..EDGES.len())],
        1 => rng.random_range(0..5),
        _ => u64::from_le_bytes(old).wrapping_add(if rng.random_bool(0.5) { 1 } else { u64::MAX }),
    };
    slot.copy_from_slice(&v.to_le_bytes()[..width]);
}

fn edit(rng: &mut SmallRng, data: &mut Vec<u8>, pool: &[Vec<u8>], choice: u32) {
    let len = data.len();
    let at = |rng: &mut SmallRng| if len == 0 { 0 } else { rng.random_range(0..len) };
    match choice {
        // Flip one bit.
        0 if len > 0 => {
            let i = at(rng);
            data[i] ^= 1 << rng.random_range(0..8);
        }
        // A random byte.
        1 if len > 0 => {
            let i = at(rng);
            data[i] = rng.random();
        }
        // An edge integer, 1, 2, 4 or 8 bytes little-endian, possibly negated.
        2 | 3 if len > 0 => {
            let width = 1 << rng.random_range(0..4);
            let mut v = EDGES[rng.random_range(0..EDGES.len())];
            if rng.random_bool(0.2) {
                v = v.wrapping_neg();
            }
            let i = at(rng);
            for (k, b) in v.to_le_bytes().iter().take(width).enumerate() {
                if let Some(d) = data.get_mut(i + k) {
                    *d = *b;
                }
            }
        }
        // Add or subtract a little from an integer (a length off by a few).
        4 if len >= 8 => {
            let i = rng.random_range(0..len - 7);
            let mut w = [0u8; 8];
            w.copy_from_slice(&data[i..i + 8]);
            let v = u64::from_le_bytes(w).wrapping_add(rng.random_range(0..33u64).wrapping_sub(16));
            data[i..i + 8].copy_from_slice(&v.to_le_bytes());
        }
        // Delete a chunk.
        5 if len > 0 => {
            let i = at(rng);
            let n = rng.random_range(1..=(len - i).min(64));
            data.drain(i..i + n);
        }
        // Duplicate a chunk of itself somewhere else.
        6 if len > 0 => {
            let i = at(rng);
            let n = rng.random_range(1..=(len - i).min(64));
            let chunk = data[i..i + n].to_vec();
            let j = rng.random_range(0..=len);
            data.splice(j..j, chunk);
        }
        // Truncate.
        7 if len > 0 => {
            let i = at(rng);
            data.truncate(i);
        }
        // Splice in a chunk of another seed (same offset, as formats line up).
        8 if !pool.is_empty() => {
            let other = &pool[rng.random_range(0..pool.len())];
            if !other.is_empty() {
                let i = rng.random_range(0..other.len());
                let n = rng.random_range(1..=(other.len() - i).min(256));
                let j = i.min(len);
                let end = (j + n).min(len);
                data.splice(j..end, other[i..i + n].iter().copied());
            }
        }
        // Random bytes inserted.
        9 => {
            let n = rng.random_range(1..=16);
            let mut b = vec![0u8; n];
            rng.fill_bytes(&mut b);
            let j = if len == 0 { 0 } else { rng.random_range(0..=len) };
            data.splice(j..j, b);
        }
        // Text formats: a token inserted, or replacing a run of bytes.
        10 | 11 => {
            let t = TEXT_TOKENS[rng.random_range(0..TEXT_TOKENS.len())].as_bytes();
            let j = if len == 0 { 0 } else { rng.random_range(0..=len) };
            let end = if choice == 11 { (j + rng.random_range(0..8)).min(len) } else { j };
            data.splice(j..end, t.iter().copied());
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn mutations_change_the_input_and_respect_the_length_cap() {
        let mut rng = SmallRng::seed_from_u64(7);
        let seed = b"{\"d_in\": 768, \"d_sae\": 24576}".to_vec();
        let mut changed = 0;
        for _ in 0..1000 {
            let mut d = seed.clone();
            mutate(&mut rng, &mut d, std::slice::from_ref(&seed), true, &[], 40);
            assert!(d.len() <= 40);
            changed += usize::from(d != seed);
        }
        assert!(changed > 900, "{changed} of 1000 mutated");
    }
}
