//! Where the integers of a GGUF file are (metadata values, tensor dims, types and offsets),
//! so the mutator can set them to edge values: a blind byte edit rarely lands on the four
//! bytes of `llama.attention.head_count`, and a head count of 0 divided by zero until fuzzing
//! with this found it. Tolerant: stops at the first thing that does not parse.

/// `(offset, width)` of every integer field of the GGUF header in `b`.
pub fn gguf_fields(b: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let _ = walk(b, &mut out);
    out
}

fn walk(b: &[u8], out: &mut Vec<(usize, usize)>) -> Option<()> {
    let mut at = 8; // magic, version
    let u64_at = |at: usize| b.get(at..at + 8).map(|s| u64::from_le_bytes(s.try_into().expect("8 bytes")));
    let u32_at = |at: usize| b.get(at..at + 4).map(|s| u32::from_le_bytes(s.try_into().expect("4 bytes")));
    out.push((at, 8));
    let n_tensors = u64_at(at)?;
    out.push((at + 8, 8));
    let n_kv = u64_at(at + 8)?;
    at += 16;
    let string = |at: &mut usize| -> Option<()> {
        let n = usize::try_from(u64_at(*at)?).ok()?;
        *at = at.checked_add(8)?.checked_add(n)?;
        (*at <= b.len()).then_some(())
    };
    for _ in 0..n_kv.min(10_000) {
        string(&mut at)?;
        let ty = u32_at(at)?;
        at += 4;
        value(b, &mut at, ty, out, &string)?;
    }
    for _ in 0..n_tensors.min(10_000) {
        string(&mut at)?;
        out.push((at, 4));
        let nd = u32_at(at)? as usize;
        at += 4;
        for _ in 0..nd.min(8) {
            out.push((at, 8));
            at += 8;
        }
        out.push((at, 4)); // type
        out.push((at + 4, 8)); // offset
        at += 12;
    }
    Some(())
}

fn value(b: &[u8], at: &mut usize, ty: u32, out: &mut Vec<(usize, usize)>, string: &dyn Fn(&mut usize) -> Option<()>) -> Option<()> {
    // GGUF value types: 0 u8, 1 i8, 2 u16, 3 i16, 4 u32, 5 i32, 6 f32, 7 bool, 8 string,
    // 9 array, 10 u64, 11 i64, 12 f64.
    let width = match ty {
        0 | 1 | 7 => 1,
        2 | 3 => 2,
        4..=6 => 4,
        10..=12 => 8,
        8 => return string(at),
        9 => {
            let et = u32::from_le_bytes(b.get(*at..*at + 4)?.try_into().ok()?);
            out.push((*at + 4, 8)); // the array's length
            let n = u64::from_le_bytes(b.get(*at + 4..*at + 12)?.try_into().ok()?);
            *at += 12;
            // The elements (token types, scores) are not fields worth aiming at: skipped.
            let mut elements = Vec::new();
            for _ in 0..n.min(1 << 20) {
                value(b, at, et, &mut elements, string)?;
            }
            return Some(());
        }
        _ => return None,
    };
    if ty != 6 && ty != 12 {
        out.push((*at, width));
    }
    *at += width;
    (*at <= b.len()).then_some(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_the_fields_of_the_seed() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let b = std::fs::read(root.join("fuzz/seeds/tiny-llama.gguf")).unwrap();
        let f = super::gguf_fields(&b);
        // The head count is among them.
        let key = b"llama.attention.head_count";
        let i = b.windows(key.len()).position(|w| w == key).unwrap() + key.len() + 4;
        assert!(f.contains(&(i, 4)), "{} fields", f.len());
        assert!(f.len() > 50, "{} fields", f.len());
    }
}
