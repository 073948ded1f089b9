//! TLS handshake inspection on OpenSSL, host-side. Verification problems never
//! abort the handshake: they are recorded and returned, so a check can report
//! an expired or mismatched certificate instead of a connection error. OpenSSL
//! (not rustls) so legacy protocol versions and weak ciphers can be detected.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use openssl::asn1::Asn1Time;
use openssl::hash::MessageDigest;
use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode, SslVersion};
use openssl::x509::{X509, X509NameRef, X509VerifyResult};

use crate::bindings::gate::plugin::net::{Certificate, TlsInfo, TlsOptions};

/// Connects to the first of the addresses the `net` capability checked and
/// resolved; nothing is resolved again here.
fn connect(target: &str, addrs: &[SocketAddr], budget: Duration) -> Result<TcpStream, String> {
    let mut last = format!("connect {target}: no address");
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect_timeout(addr, budget) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = format!("connect {target}: {e}"),
        }
    }
    let stream = stream.ok_or(last)?;
    stream.set_read_timeout(Some(budget)).ok();
    stream.set_write_timeout(Some(budget)).ok();
    Ok(stream)
}

fn name_text(name: &X509NameRef) -> String {
    name.entries()
        .map(|e| {
            let key = e.object().nid().short_name().unwrap_or("?");
            let val = openssl::asn1::Asn1StringRef::to_string(e.data()).unwrap_or_default();
            format!("{key}={val}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn unix_time(t: &openssl::asn1::Asn1TimeRef) -> i64 {
    let epoch = Asn1Time::from_unix(0).expect("epoch");
    epoch
        .diff(t)
        .map(|d| d.days as i64 * 86_400 + d.secs as i64)
        .unwrap_or(0)
}

pub fn certificate(cert: &X509) -> Certificate {
    let mut sans = Vec::new();
    if let Some(names) = cert.subject_alt_names() {
        for n in names.iter() {
            if let Some(d) = n.dnsname() {
                sans.push(d.to_string());
            } else if let Some(ip) = n.ipaddress() {
                match ip.len() {
                    4 => sans.push(std::net::Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]).to_string()),
                    16 => {
                        let mut b = [0u8; 16];
                        b.copy_from_slice(ip);
                        sans.push(std::net::Ipv6Addr::from(b).to_string())
                    }
                    _ => {}
                }
            }
        }
    }
    Certificate {
        subject: name_text(cert.subject_name()),
        issuer: name_text(cert.issuer_name()),
        sans,
        not_before: unix_time(cert.not_before()),
        not_after: unix_time(cert.not_after()),
        serial: cert
            .serial_number()
            .to_bn()
            .and_then(|b| b.to_hex_str().map(|s| s.to_string()))
            .unwrap_or_default(),
        sha256_fingerprint: cert
            .digest(MessageDigest::sha256())
            .map(hex::encode)
            .unwrap_or_default(),
    }
}

/// RFC 6125-style match: exact, or one left-most `*` label.
pub fn hostname_matches(cert: &Certificate, name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    let mut candidates: Vec<String> = cert.sans.iter().map(|s| s.to_ascii_lowercase()).collect();
    if candidates.is_empty() {
        // Legacy: fall back to the CN only when there are no SANs.
        if let Some(cn) = cert
            .subject
            .split(", ")
            .find_map(|kv| kv.strip_prefix("CN="))
        {
            candidates.push(cn.to_ascii_lowercase());
        }
    }
    candidates.iter().any(|c| {
        if let Some(suffix) = c.strip_prefix("*.") {
            name.split_once('.')
                .is_some_and(|(first, rest)| !first.is_empty() && rest == suffix)
        } else {
            *c == name
        }
    })
}

fn version_name(v: &str) -> Option<SslVersion> {
    match v {
        "1.0" | "TLSv1" | "TLSv1.0" => Some(SslVersion::TLS1),
        "1.1" | "TLSv1.1" => Some(SslVersion::TLS1_1),
        "1.2" | "TLSv1.2" => Some(SslVersion::TLS1_2),
        "1.3" | "TLSv1.3" => Some(SslVersion::TLS1_3),
        _ => None,
    }
}

pub fn inspect(
    target: &str,
    addrs: &[SocketAddr],
    host: &str,
    opts: &TlsOptions,
    budget: Duration,
    ca_pem: Option<&[u8]>,
) -> Result<TlsInfo, String> {
    let mut builder = SslConnector::builder(SslMethod::tls_client()).map_err(|e| e.to_string())?;
    builder.set_verify(SslVerifyMode::NONE);
    // Allow everything the library can speak, so old servers are seen, not refused.
    builder.set_min_proto_version(None).ok();
    builder.set_cipher_list("ALL:@SECLEVEL=0").ok();
    // The roots come from the granted file gate read, not from a path
    // OpenSSL would open again.
    if let (Some(ca), Some(pem)) = (&opts.ca_file, ca_pem) {
        let certs = X509::stack_from_pem(pem).map_err(|e| format!("ca_file {ca}: {e}"))?;
        for cert in certs {
            builder
                .cert_store_mut()
                .add_cert(cert)
                .map_err(|e| format!("ca_file {ca}: {e}"))?;
        }
    }
    let connector = builder.build();
    let name = opts.server_name.clone().unwrap_or_else(|| host.to_string());
    let mut config = connector.configure().map_err(|e| e.to_string())?;
    config.set_verify_hostname(false);
    config.set_use_server_name_indication(true);
    let stream = connect(target, addrs, budget)?;
    let tls = config
        .connect(&name, stream)
        .map_err(|e| format!("TLS handshake with {target} failed: {e}"))?;
    let ssl = tls.ssl();
    let chain: Vec<Certificate> = match ssl.peer_cert_chain() {
        Some(stack) => stack.iter().map(|c| certificate(&c.to_owned())).collect(),
        None => ssl
            .peer_certificate()
            .map(|c| vec![certificate(&c)])
            .unwrap_or_default(),
    };
    let verify = ssl.verify_result();
    let hostname_ok = chain
        .first()
        .is_some_and(|leaf| hostname_matches(leaf, &name));
    let cipher = ssl.current_cipher();
    Ok(TlsInfo {
        protocol: ssl.version_str().to_string(),
        cipher: cipher.map(|c| c.name().to_string()).unwrap_or_default(),
        cipher_bits: cipher.map(|c| c.bits().secret as u32).unwrap_or(0),
        chain,
        verified: verify == X509VerifyResult::OK,
        verify_error: (verify != X509VerifyResult::OK).then(|| verify.error_string().to_string()),
        hostname_matches: hostname_ok,
        alpn: ssl
            .selected_alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
    })
}

pub fn accepts_version(
    target: &str,
    addrs: &[SocketAddr],
    host: &str,
    version: &str,
    opts: &TlsOptions,
    budget: Duration,
) -> Result<bool, String> {
    let v = version_name(version)
        .ok_or_else(|| format!("unknown TLS version `{version}` (use 1.0, 1.1, 1.2 or 1.3)"))?;
    let mut builder = SslConnector::builder(SslMethod::tls_client()).map_err(|e| e.to_string())?;
    builder.set_verify(SslVerifyMode::NONE);
    builder.set_cipher_list("ALL:@SECLEVEL=0").ok();
    builder
        .set_min_proto_version(Some(v))
        .map_err(|e| e.to_string())?;
    builder
        .set_max_proto_version(Some(v))
        .map_err(|e| e.to_string())?;
    let connector = builder.build();
    let name = opts.server_name.clone().unwrap_or_else(|| host.to_string());
    let mut config = connector.configure().map_err(|e| e.to_string())?;
    config.set_verify_hostname(false);
    let stream = connect(target, addrs, budget)?;
    Ok(config.connect(&name, stream).is_ok())
}
