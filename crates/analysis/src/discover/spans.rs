//! Where tokens sit in the analysed text: code-point positions for JSON consumers, the
//! tokens a `--span` covers, and the windows shown as a feature's `top_spans`.

use super::response::TopSpan;
use crate::error::Result;

/// Tokens either side of a peak shown in a top span: enough to read the context.
const BEFORE: usize = 4;
const AFTER: usize = 2;
/// Top spans per feature.
pub const SPANS_PER_FEATURE: usize = 3;

/// Largest char boundary ≤ `i` in `s`.
fn floor_boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Byte offset → code-point offset in `text`.
pub fn char_pos(text: &str, byte: usize) -> usize {
    text[..floor_boundary(text, byte)].chars().count()
}

/// Per token: does its text overlap any of `spans` (`[start, end)` in code points)? Tokens
/// with an empty range (bos) never do. Errors name a span past the end of the text.
pub fn span_mask(text: &str, offsets: &[(usize, usize)], spans: &[[usize; 2]]) -> Result<Vec<bool>> {
    let n_chars = text.chars().count();
    let mut byte_spans = Vec::with_capacity(spans.len());
    for &[a, b] in spans {
        if b > n_chars {
            return Err(crate::Error::field("spans", format!("span [{a}, {b}] ends past the text's {n_chars} characters")));
        }
        let byte = |c: usize| text.char_indices().nth(c).map_or(text.len(), |(i, _)| i);
        byte_spans.push((byte(a), byte(b)));
    }
    Ok(offsets.iter().map(|&(s, e)| e > s && byte_spans.iter().any(|&(a, b)| s < b && a < e)).collect())
}

/// Up to [`SPANS_PER_FEATURE`] windows around the feature's strongest tokens (activation
/// per token in `acts`, 0 = silent), windows not overlapping; tokens before `first` (bos)
/// are never part of a window.
pub fn top_spans(text: &str, offsets: &[(usize, usize)], acts: &[f32], first: usize) -> Vec<TopSpan> {
    let mut peaks: Vec<usize> = (first..acts.len()).filter(|&p| acts[p] > 0.0).collect();
    peaks.sort_by(|&a, &b| acts[b].total_cmp(&acts[a]).then(a.cmp(&b)));
    let mut taken: Vec<(usize, usize)> = Vec::new();
    let mut out = Vec::new();
    for p in peaks {
        if out.len() == SPANS_PER_FEATURE {
            break;
        }
        let lo = p.saturating_sub(BEFORE).max(first);
        let hi = (p + AFTER).min(acts.len() - 1);
        if taken.iter().any(|&(a, b)| lo <= b && a <= hi) {
            continue;
        }
        taken.push((lo, hi));
        let (a, b) = (floor_boundary(text, offsets[lo].0), floor_boundary(text, offsets[hi].1));
        out.push(TopSpan { text: text[a..b.max(a)].to_string(), position: [char_pos(text, a), char_pos(text, b.max(a))], act: acts[p] });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_mark_overlapping_tokens() {
        // "héllo world": é is 2 bytes. Tokens: bos (0,0), "héllo" (0,6), " world" (6,12).
        let text = "héllo world";
        let offsets = [(0, 0), (0, 6), (6, 12)];
        // Chars 0..2 ("hé") → token 1; chars 5..6 (" ") → token 2.
        assert_eq!(span_mask(text, &offsets, &[[0, 2]]).unwrap(), [false, true, false]);
        assert_eq!(span_mask(text, &offsets, &[[5, 6]]).unwrap(), [false, false, true]);
        assert_eq!(span_mask(text, &offsets, &[[0, 1], [10, 11]]).unwrap(), [false, true, true]);
        let e = span_mask(text, &offsets, &[[0, 12]]).unwrap_err();
        assert_eq!(e.field_name(), Some("spans"));
    }

    #[test]
    fn top_spans_are_windows_around_peaks_in_code_points() {
        // 10 one-char tokens after bos: "abcdéfghij" (é = 2 bytes).
        let text = "abcdéfghij";
        let mut offsets = vec![(0, 0)];
        for (i, c) in text.char_indices() {
            offsets.push((i, i + c.len_utf8()));
        }
        let mut acts = vec![0f32; 11];
        acts[0] = 50.0; // bos: never shown
        acts[9] = 3.0; // "i"
        acts[8] = 2.0; // "h": inside the first window → skipped
        acts[2] = 1.0; // "b"
        let s = top_spans(text, &offsets, &acts, 1);
        // Peak 9: tokens 5..=10 → chars 4..10 "éfghij".
        assert_eq!(s[0], TopSpan { text: "éfghij".into(), position: [4, 10], act: 3.0 });
        // Peak 2: tokens 1..=4 → "abcd", chars 0..4.
        assert_eq!(s[1], TopSpan { text: "abcd".into(), position: [0, 4], act: 1.0 });
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn char_positions_count_code_points() {
        assert_eq!(char_pos("héllo", 3), 2);
        assert_eq!(char_pos("héllo", 2), 1); // inside é: floors to its start
    }
}
