//! RFC 6238 codes computed by the tests themselves (HMAC-SHA-1, 6 digits, 30-second steps), so
//! a server's two-factor checks are held against an implementation other than its own.

use aws_lc_rs::hmac;

/// RFC 6238 with HMAC-SHA-1, 6 digits, 30-second steps, for `unix` seconds.
pub fn totp(secret_base32: &str, unix: i64) -> String {
    let key = hmac::Key::new(
        hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        &base32_decode(secret_base32),
    );
    let counter = u64::try_from(unix / 30).expect("a time after 1970");
    let tag = hmac::sign(&key, &counter.to_be_bytes());
    let digest = tag.as_ref();
    let offset = usize::from(digest[19] & 0x0f);
    let window: [u8; 4] = digest[offset..offset + 4]
        .try_into()
        .expect("four bytes of a 20-byte digest");
    let value = u32::from_be_bytes(window) & 0x7fff_ffff;
    format!("{:06}", value % 1_000_000)
}

/// RFC 4648 base32 without padding.
pub fn base32_decode(text: &str) -> Vec<u8> {
    let mut bits = 0_u64;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.trim_end_matches('=').chars() {
        let value = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
            .find(c.to_ascii_uppercase())
            .expect("a base32 character");
        bits = (bits << 5) | value as u64;
        count += 5;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    out
}
