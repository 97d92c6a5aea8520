//! The automatic proto-label of a feature, from the tokens it fires hardest on (a corpus
//! index's top examples) and the tokens it boosts most (its decoder row times the unembedding,
//! `logit-stats`). Deterministic: the same index and SAE give the same label.
//!
//! The rule, for the top `n` examples' peak tokens (strongest first) and the boosted tokens:
//! 1. count each distinct peak token; order by count, then by the rank of its strongest example;
//! 2. keep the first, and the next ones seen at least twice, three at most;
//! 3. write each as a quoted token with its count over `n`, then `→` and the first three
//!    boosted tokens: `auto: "·world" 14/20, "·War" 3/20 → "·Cup" "·Series" "·wide"`.
//!
//! Tokens show a space (or SentencePiece's `▁`) as `·`, a newline as `↵`, a tab as `⇥`, and are cut at 16
//! characters. A feature with no example in the index gets no label.

use std::collections::HashMap;

/// The prefix every automatic label starts with.
pub const PREFIX: &str = "auto: ";

/// Most distinct activating tokens in a label.
pub const MAX_TOKENS: usize = 3;

/// Boosted tokens in a label.
pub const MAX_BOOSTED: usize = 3;

/// A token as a label shows it: `"·world"`.
pub fn show(token: &str) -> String {
    let mut s: String = token
        .chars()
        .map(|c| match c {
            // SentencePiece's word-start marker is a space too (raw vocabulary pieces carry it).
            ' ' | '▁' => '·',
            '\n' => '↵',
            '\t' => '⇥',
            '"' => '\'',
            c if c.is_control() => '�',
            c => c,
        })
        .collect();
    if s.chars().count() > 16 {
        s = s.chars().take(15).collect::<String>() + "…";
    }
    format!("\"{s}\"")
}

/// The activating tokens the rule keeps, with their counts.
pub fn top_tokens(peaks: &[String]) -> Vec<(String, usize)> {
    let mut first: HashMap<&str, usize> = HashMap::new();
    let mut count: HashMap<&str, usize> = HashMap::new();
    for (i, t) in peaks.iter().enumerate() {
        first.entry(t).or_insert(i);
        *count.entry(t).or_insert(0) += 1;
    }
    let mut all: Vec<(&str, usize)> = count.into_iter().collect();
    all.sort_by_key(|&(t, c)| (std::cmp::Reverse(c), first[t]));
    all.iter().enumerate().filter(|&(i, &(_, c))| i == 0 || c >= 2).take(MAX_TOKENS).map(|(_, &(t, c))| (t.to_string(), c)).collect()
}

/// The label; `None` when the feature has no example.
pub fn label(peaks: &[String], boosted: &[String]) -> Option<String> {
    let kept = top_tokens(peaks);
    if kept.is_empty() {
        return None;
    }
    let n = peaks.len();
    let fired = kept.iter().map(|(t, c)| format!("{} {c}/{n}", show(t))).collect::<Vec<_>>().join(", ");
    let b: Vec<String> = boosted.iter().take(MAX_BOOSTED).map(|t| show(t)).collect();
    Some(if b.is_empty() { format!("{PREFIX}{fired}") } else { format!("{PREFIX}{fired} → {}", b.join(" ")) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_rule_by_hand() {
        // " world" 3 times (first at rank 1), "War" twice (first at rank 0), "x" once:
        // counts order them " world", "War"; "x" is seen once and is not first, so dropped.
        let peaks = v(&["War", " world", " world", "x", "War", " world"]);
        assert_eq!(top_tokens(&peaks), vec![(" world".to_string(), 3), ("War".to_string(), 2)]);
        assert_eq!(
            label(&peaks, &v(&[" Cup", "\n", "a\"b", "dropped"])).unwrap(),
            "auto: \"·world\" 3/6, \"War\" 2/6 → \"·Cup\" \"↵\" \"a'b\""
        );
        // All distinct: only the strongest one.
        assert_eq!(label(&v(&["a", "b", "c"]), &[]).unwrap(), "auto: \"a\" 1/3");
        // Ties in count: the one with the stronger first example first.
        assert_eq!(top_tokens(&v(&["b", "a", "a", "b"]))[0].0, "b");
        assert_eq!(label(&[], &v(&["x"])), None);
        assert_eq!(show("abcdefghijklmnopqrstuvwxyz"), "\"abcdefghijklmno…\"");
        assert_eq!(show("▁voici"), "\"·voici\"");
    }
}
