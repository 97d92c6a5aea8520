//! Terminal output helpers: text shown as it is (no Rust escaping of backslashes or quotes,
//! so LaTeX reads as LaTeX), with layout characters made visible.

/// `s` on one line: newline as ⏎, tab as ⇥, carriage return as ␍, other control characters
/// as their Unicode control pictures; everything else as is.
pub fn show(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\n' => '⏎',
            '\t' => '⇥',
            '\r' => '␍',
            c if (c as u32) < 0x20 => char::from_u32(0x2400 + c as u32).unwrap_or('�'),
            c => c,
        })
        .collect()
}

/// `s` cut to at most `n` characters (an ellipsis marks the cut).
pub fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n.saturating_sub(1)).chain(['…']).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latex_is_not_escaped_and_layout_is_visible() {
        assert_eq!(show("\\begin{theorem}\n\tx"), "\\begin{theorem}⏎⇥x");
        assert_eq!(show("\"q\""), "\"q\"");
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abc", 4), "abc");
    }
}
