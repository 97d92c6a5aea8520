//! [`Key`]: the 32-byte address of a cache entry.

use sha2::{Digest, Sha256};
use std::fmt;

/// 32-byte key: sha256 over length-prefixed parts, so `("ab","c") != ("a","bc")`.
///
/// Each part contributes its length as a u64 little-endian, then its bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Key(pub [u8; 32]);

impl Key {
    /// The key of an ordered list of parts (model sha256, SAE sha256, hook, text, params...).
    pub fn of(parts: &[&[u8]]) -> Key {
        let mut h = Sha256::new();
        for p in parts {
            h.update((p.len() as u64).to_le_bytes());
            h.update(p);
        }
        Key(h.finalize().into())
    }

    /// Lowercase hex, 64 characters.
    pub fn hex(&self) -> String {
        hex(&self.0)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

/// Lowercase hex of any bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_length_prefixed() {
        let ab_c = Key::of(&[b"ab", b"c"]);
        let a_bc = Key::of(&[b"a", b"bc"]);
        let abc = Key::of(&[b"abc"]);
        assert_ne!(ab_c, a_bc);
        assert_ne!(ab_c, abc);
        // No parts hashes nothing; one empty part hashes 8 zero bytes.
        assert_ne!(Key::of(&[]), Key::of(&[b""]));
        assert_eq!(ab_c, Key::of(&[b"ab", b"c"]));
    }

    #[test]
    fn key_of_no_parts_is_sha256_of_empty() {
        // sha256("") = e3b0c442...b855 (FIPS 180-2 test vector).
        assert_eq!(Key::of(&[]).hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    #[test]
    fn hex_is_lowercase_two_digits_per_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
        let k = Key([0xab; 32]);
        assert_eq!(k.hex(), "ab".repeat(32));
        assert_eq!(k.to_string(), k.hex());
    }
}
