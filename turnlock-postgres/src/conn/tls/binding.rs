//! Channel binding (`tls-server-end-point`, RFC 5929): the hash of the
//! server's certificate, with the hash its signature algorithm names.

/// `tls-server-end-point` channel binding (RFC 5929): the hash of the
/// server's certificate, with the hash of its signature algorithm (SHA-256
/// for MD5 and SHA-1). `None` for an algorithm without one of these hashes
/// (Ed25519, RSA-PSS), for which PostgreSQL offers no channel binding
/// either.
pub(super) fn server_end_point(cert: &[u8]) -> Option<Vec<u8>> {
    use ring::digest::{SHA256, SHA384, SHA512, digest};
    // Object identifiers' content bytes, as DER encodes them.
    const RSA: [u8; 8] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01];
    const ECDSA: [u8; 6] = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04];
    let oid = signature_algorithm(cert)?;
    let algorithm = if let Some(rest) = oid.strip_prefix(&RSA) {
        match rest {
            // md5WithRSA, sha1WithRSA, sha256WithRSA
            [0x04] | [0x05] | [0x0b] => &SHA256,
            [0x0c] => &SHA384,
            [0x0d] => &SHA512,
            // sha224WithRSA (0x0e) and RSA-PSS (0x0a): no SHA-2 digest of ring's.
            _ => return None,
        }
    } else if let Some(rest) = oid.strip_prefix(&ECDSA) {
        match rest {
            // ecdsa-with-SHA1, ecdsa-with-SHA256
            [0x01] | [0x03, 0x02] => &SHA256,
            [0x03, 0x03] => &SHA384,
            [0x03, 0x04] => &SHA512,
            _ => return None,
        }
    } else {
        return None;
    };
    Some(digest(algorithm, cert).as_ref().to_vec())
}

/// The object identifier of a DER certificate's `signatureAlgorithm`:
/// `Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm
/// AlgorithmIdentifier ::= SEQUENCE { algorithm OID, ... }, signature }`.
pub(super) fn signature_algorithm(cert: &[u8]) -> Option<&[u8]> {
    let (certificate, _) = der(cert, 0x30)?;
    let (_, after_tbs) = der(certificate, 0x30)?;
    let (algorithm, _) = der(after_tbs, 0x30)?;
    let (oid, _) = der(algorithm, 0x06)?;
    Some(oid)
}

/// One DER element with tag `tag` at the start of `input`: its content and
/// what follows it.
pub(super) fn der(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&found, rest) = input.split_first()?;
    if found != tag {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let bytes = usize::from(first & 0x7f);
        if bytes == 0 || bytes > 4 || rest.len() < bytes {
            return None;
        }
        let len = rest[..bytes]
            .iter()
            .fold(0usize, |len, &b| (len << 8) | usize::from(b));
        (len, &rest[bytes..])
    };
    (rest.len() >= len).then(|| rest.split_at(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal certificate-shaped DER value with the given signature
    /// algorithm OID (long-form lengths for the outer sequence).
    fn cert_with(oid: &[u8]) -> Vec<u8> {
        let tbs = [0x30, 0x03, 0x02, 0x01, 0x01];
        let mut alg = vec![0x30, (oid.len() + 4) as u8, 0x06, oid.len() as u8];
        alg.extend_from_slice(oid);
        alg.extend_from_slice(&[0x05, 0x00]);
        let sig = [0x03, 0x02, 0x00, 0xff];
        let body: Vec<u8> = [&tbs[..], &alg, &sig].concat();
        let mut cert = vec![0x30, 0x81, body.len() as u8];
        cert.extend(body);
        cert
    }

    #[test]
    fn the_signature_algorithm_picks_the_hash() {
        let sha256_rsa = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
        let sha384_ecdsa = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03];
        let sha1_rsa = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05];
        let ed25519 = [0x2b, 0x65, 0x70];
        let cert = cert_with(&sha256_rsa);
        assert_eq!(signature_algorithm(&cert), Some(&sha256_rsa[..]));
        assert_eq!(server_end_point(&cert).unwrap().len(), 32);
        assert_eq!(
            server_end_point(&cert).unwrap(),
            ring::digest::digest(&ring::digest::SHA256, &cert).as_ref()
        );
        assert_eq!(
            server_end_point(&cert_with(&sha384_ecdsa)).unwrap().len(),
            48
        );
        // SHA-1 is replaced by SHA-256 (RFC 5929).
        assert_eq!(server_end_point(&cert_with(&sha1_rsa)).unwrap().len(), 32);
        assert_eq!(server_end_point(&cert_with(&ed25519)), None);
    }

    #[test]
    fn truncated_der_is_refused() {
        let cert = cert_with(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]);
        for len in 0..cert.len() {
            assert_eq!(server_end_point(&cert[..len]), None, "{len}");
        }
        assert_eq!(der(&[0x30, 0x85, 1, 1, 1, 1, 1], 0x30), None);
        assert_eq!(der(&[0x31, 0x00], 0x30), None);
    }
}
