//! Just enough DER to take the PKCS#1 `RSAPrivateKey` out of a PKCS#8 `PrivateKeyInfo`
//! (RFC 5208 §5): the JWT library signs RSA from PKCS#1, the key generator emits PKCS#8.

/// The content of the `privateKey` OCTET STRING of a PKCS#8 `PrivateKeyInfo`.
pub fn pkcs8_private_key(pkcs8: &[u8]) -> Option<&[u8]> {
    let (tag, info, _) = element(pkcs8)?;
    if tag != 0x30 {
        return None;
    }
    let (version_tag, _, rest) = element(info)?; // version INTEGER
    let (algorithm_tag, _, rest) = element(rest)?; // AlgorithmIdentifier SEQUENCE
    let (key_tag, key, _) = element(rest)?;
    (version_tag == 0x02 && algorithm_tag == 0x30 && key_tag == 0x04).then_some(key)
}

/// Splits one TLV element off `input`: (tag, content, rest).
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (bytes, rest) = rest.split_at(count);
        (
            bytes.iter().fold(0usize, |n, b| (n << 8) | usize::from(*b)),
            rest,
        )
    };
    (rest.len() >= length).then(|| (tag, &rest[..length], &rest[length..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_input_is_refused_not_panicking() {
        assert_eq!(pkcs8_private_key(&[]), None);
        assert_eq!(pkcs8_private_key(&[0x30, 0x82, 0xff]), None);
        assert_eq!(pkcs8_private_key(&[0x30, 0x03, 0x02, 0x01, 0x00]), None);
    }

    #[test]
    fn the_inner_key_is_found() {
        // SEQUENCE { INTEGER 0, SEQUENCE {}, OCTET STRING { 0xaa 0xbb } }
        let info = [
            0x30, 0x09, 0x02, 0x01, 0x00, 0x30, 0x00, 0x04, 0x02, 0xaa, 0xbb,
        ];
        assert_eq!(pkcs8_private_key(&info), Some(&[0xaa, 0xbb][..]));
    }
}
