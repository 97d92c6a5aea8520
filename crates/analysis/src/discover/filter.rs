//! The token pre-filter (seed 002 step 3): keep the K most informative tokens of a sequence,
//! by the entropy of the model's next-token distribution or by activation norm. bos is never
//! kept: its residual norm is an order of magnitude above every other token's and it carries
//! no content.

/// Positions of the `k` highest `proxy` values among `candidates` (all when `k` is 0 or
/// covers them), in position order. Ties go to the earlier token.
pub fn keep_top(proxy: &[f32], candidates: impl Iterator<Item = usize>, k: usize) -> Vec<usize> {
    let mut c: Vec<usize> = candidates.collect();
    if k > 0 && k < c.len() {
        c.sort_by(|&a, &b| proxy[b].total_cmp(&proxy[a]).then(a.cmp(&b)));
        c.truncate(k);
        c.sort_unstable();
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_top_k_in_position_order() {
        let proxy = [100.0, 1.0, 5.0, 3.0, 5.0];
        // Candidates skip bos (0); top 2 of {1:1, 2:5, 3:3, 4:5} → 2 and 4 (tie → both).
        assert_eq!(keep_top(&proxy, 1..5, 2), [2, 4]);
        // Tie broken by position: top 1 of {2:5, 4:5} → 2.
        assert_eq!(keep_top(&proxy, 1..5, 1), [2]);
        assert_eq!(keep_top(&proxy, 1..5, 0), [1, 2, 3, 4]);
        assert_eq!(keep_top(&proxy, 1..5, 10), [1, 2, 3, 4]);
    }
}
