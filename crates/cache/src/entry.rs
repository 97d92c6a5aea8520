//! The entry file format: a 48-byte header, then the payload.
//!
//! ```text
//! offset  0  magic   b"SAEXC1\0\0"
//! offset  8  u64 LE  payload length
//! offset 16  [u8;32] sha256 of the payload
//! offset 48  payload
//! ```

use sha2::{Digest, Sha256};

/// First 8 bytes of every entry file.
pub(crate) const MAGIC: [u8; 8] = *b"SAEXC1\0\0";
/// Bytes before the payload: magic (8) + length (8) + sha256 (32).
pub(crate) const HEADER_LEN: usize = 48;

/// The header for `payload`.
pub(crate) fn header(payload: &[u8]) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(&MAGIC);
    h[8..16].copy_from_slice(&(payload.len() as u64).to_le_bytes());
    h[16..].copy_from_slice(&Sha256::digest(payload));
    h
}

/// Checks a whole entry file and returns its payload, or why it is damaged.
pub(crate) fn decode(mut file: Vec<u8>) -> std::result::Result<Vec<u8>, String> {
    if file.len() < HEADER_LEN {
        return Err(format!("truncated header: {} bytes, need {HEADER_LEN}", file.len()));
    }
    if file[..8] != MAGIC {
        return Err(format!("bad magic {:?}", &file[..8]));
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(&file[8..16]);
    let declared = u64::from_le_bytes(len);
    let actual = (file.len() - HEADER_LEN) as u64;
    if actual < declared {
        return Err(format!("truncated: {actual} of {declared} payload bytes"));
    }
    if actual > declared {
        return Err(format!("{} trailing bytes after {declared} payload bytes", actual - declared));
    }
    if Sha256::digest(&file[HEADER_LEN..])[..] != file[16..HEADER_LEN] {
        return Err("checksum mismatch".to_string());
    }
    file.drain(..HEADER_LEN);
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(payload: &[u8]) -> Vec<u8> {
        [&header(payload)[..], payload].concat()
    }

    #[test]
    fn header_layout() {
        let h = header(b"abc");
        assert_eq!(&h[..8], b"SAEXC1\0\0");
        assert_eq!(&h[8..16], &[3, 0, 0, 0, 0, 0, 0, 0]);
        // sha256("abc") = ba7816bf 8f01cfea ... (FIPS 180-2 test vector).
        assert_eq!(&h[16..20], &[0xba, 0x78, 0x16, 0xbf]);
    }

    #[test]
    fn round_trip_including_empty() {
        assert_eq!(decode(encode(b"hello")).as_deref(), Ok(&b"hello"[..]));
        assert_eq!(decode(encode(b"")).as_deref(), Ok(&b""[..]));
    }

    #[test]
    fn damage_is_named() {
        let good = encode(b"hello");
        let short = decode(good[..10].to_vec()).unwrap_err();
        assert!(short.contains("truncated header: 10 bytes"), "{short}");
        // 48 + 5 = 53 bytes; keep 51 → 3 of 5 payload bytes.
        let cut = decode(good[..51].to_vec()).unwrap_err();
        assert!(cut.contains("truncated: 3 of 5"), "{cut}");
        let long = decode([&good[..], b"!!"].concat()).unwrap_err();
        assert!(long.contains("2 trailing bytes"), "{long}");
        let mut flipped = good.clone();
        flipped[HEADER_LEN] ^= 1;
        assert_eq!(decode(flipped).unwrap_err(), "checksum mismatch");
        let mut magic = good;
        magic[5] = b'2';
        assert!(decode(magic).unwrap_err().contains("bad magic"));
    }
}
