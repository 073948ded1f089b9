//! The facts `infra.certificates` judges, from a TLS handshake (the host's
//! inspection) or from a PEM/DER file (parsed here, in the guest).

use gate_plugin_sdk::host::net::Certificate;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::pem::Pem;

/// One X.509 certificate, reduced to what the check reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cert {
    /// `CN=app.example.com, O=Acme`.
    pub subject: String,
    pub issuer: String,
    /// DNS names and IP addresses.
    pub sans: Vec<String>,
    /// Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
    pub serial: String,
    pub sha256_fingerprint: Option<String>,
}

impl From<&Certificate> for Cert {
    fn from(c: &Certificate) -> Self {
        Cert {
            subject: c.subject.clone(),
            issuer: c.issuer.clone(),
            sans: c.sans.clone(),
            not_before: c.not_before,
            not_after: c.not_after,
            serial: c.serial.clone(),
            sha256_fingerprint: (!c.sha256_fingerprint.is_empty())
                .then(|| c.sha256_fingerprint.clone()),
        }
    }
}

/// PEM labels that hold an X.509 certificate.
const CERT_LABELS: &[&str] = &["CERTIFICATE", "TRUSTED CERTIFICATE", "X509 CERTIFICATE"];

/// Every certificate in a file: PEM with one or more certificate blocks (other
/// blocks, such as keys, are skipped unread), or a single DER certificate.
pub fn parse_file(bytes: &[u8]) -> Result<Vec<Cert>, String> {
    if !contains(bytes, b"-----BEGIN ") {
        let (_, cert) = x509_parser::parse_x509_certificate(bytes)
            .map_err(|e| format!("neither PEM nor a DER X.509 certificate ({e})"))?;
        return Ok(vec![facts(&cert)]);
    }
    let mut certs = Vec::new();
    let mut others = Vec::new();
    for (i, block) in Pem::iter_from_buffer(bytes).enumerate() {
        let block = block.map_err(|e| format!("PEM block {}: {e}", i + 1))?;
        if !CERT_LABELS.contains(&block.label.as_str()) {
            others.push(block.label.clone());
            continue;
        }
        let cert = block.parse_x509().map_err(|e| {
            format!(
                "certificate {}: not a valid X.509 certificate ({e})",
                certs.len() + 1
            )
        })?;
        certs.push(facts(&cert));
    }
    if certs.is_empty() {
        return Err(if others.is_empty() {
            "no PEM block found".to_string()
        } else {
            format!("no CERTIFICATE block (found {})", others.join(", "))
        });
    }
    Ok(certs)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn facts(cert: &X509Certificate<'_>) -> Cert {
    let mut sans = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for name in &ext.value.general_names {
            match name {
                GeneralName::DNSName(dns) => sans.push(dns.to_string()),
                GeneralName::IPAddress(ip) => {
                    if let Some(ip) = ip_text(ip) {
                        sans.push(ip);
                    }
                }
                _ => {}
            }
        }
    }
    Cert {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        sans,
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        serial: serial_hex(cert.raw_serial()),
        sha256_fingerprint: None,
    }
}

/// Upper-case hex without leading zero bytes, as OpenSSL's `BN_bn2hex` prints
/// it, so a file's serial reads the same as the host's for an endpoint.
fn serial_hex(raw: &[u8]) -> String {
    let start = raw.iter().position(|b| *b != 0).unwrap_or(raw.len());
    if start == raw.len() {
        return "0".to_string();
    }
    raw[start..].iter().map(|b| format!("{b:02X}")).collect()
}

fn ip_text(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => Some(std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string()),
        16 => {
            let octets: [u8; 16] = bytes.try_into().ok()?;
            Some(std::net::Ipv6Addr::from(octets).to_string())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/certificates/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// 2025-01-01T00:00:00Z and 2026-01-01T00:00:00Z.
    const LEAF_FROM: i64 = 1_735_689_600;
    const LEAF_UNTIL: i64 = 1_767_225_600;

    #[test]
    fn reads_dates_names_and_sans_from_pem() {
        let certs = parse_file(&fixture("leaf.pem")).unwrap();
        assert_eq!(
            certs,
            vec![Cert {
                subject: "CN=app.example.com".into(),
                issuer: "CN=gate test CA, O=gate tests".into(),
                sans: vec![
                    "app.example.com".into(),
                    "*.app.example.com".into(),
                    "10.0.0.5".into()
                ],
                not_before: LEAF_FROM,
                not_after: LEAF_UNTIL,
                serial: "1001".into(),
                sha256_fingerprint: None,
            }]
        );
    }

    #[test]
    fn reads_every_certificate_of_a_bundle_in_order() {
        let certs = parse_file(&fixture("bundle.pem")).unwrap();
        assert_eq!(certs.len(), 2);
        assert_eq!(certs[0].subject, "CN=app.example.com");
        assert_eq!(certs[1].subject, "CN=gate test CA, O=gate tests");
        assert_eq!(certs[1].not_after, 2_019_686_400); // 2034-01-01
        assert!(certs[1].sans.is_empty());
    }

    #[test]
    fn serials_print_like_openssl() {
        assert_eq!(serial_hex(&[0x00, 0x8f, 0x01]), "8F01");
        assert_eq!(serial_hex(&[0x0a]), "0A");
        assert_eq!(serial_hex(&[0x00]), "0");
    }

    #[test]
    fn reads_der() {
        let der = parse_file(&fixture("leaf.der")).unwrap();
        let pem = parse_file(&fixture("leaf.pem")).unwrap();
        assert_eq!(der, pem);
    }

    #[test]
    fn skips_other_blocks_and_text_around_them() {
        let mut text = b"subject=CN = app.example.com\n-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n".to_vec();
        text.extend(fixture("legacy.pem"));
        let certs = parse_file(&text).unwrap();
        assert_eq!(certs.len(), 1);
        assert_eq!(certs[0].subject, "CN=legacy.example.com");
    }

    #[test]
    fn files_without_a_certificate_are_errors() {
        let e = parse_file(
            b"-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n",
        )
        .unwrap_err();
        assert_eq!(e, "no CERTIFICATE block (found EC PARAMETERS)");
        let e = parse_file(b"hello").unwrap_err();
        assert!(e.starts_with("neither PEM nor a DER"), "{e}");
        let e = parse_file(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
            .unwrap_err();
        assert!(e.starts_with("certificate 1: not a valid X.509"), "{e}");
        let e = parse_file(b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n")
            .unwrap_err();
        assert!(e.starts_with("PEM block 1"), "{e}");
    }
}
