use std::path::Path;

use super::*;

fn http_allows(grant: &str, url: &str) -> bool {
    let g = HttpGrant::parse(grant).unwrap_or_else(|e| panic!("{grant}: {e}"));
    match check_url(url) {
        Ok(u) => g.allows(&u),
        Err(_) => false,
    }
}

fn net_allows(grant: &str, target: &str) -> bool {
    let g = NetGrant::parse(grant).unwrap_or_else(|e| panic!("{grant}: {e}"));
    NetTarget::parse(target).is_ok_and(|t| g.allows(&t))
}

#[test]
fn http_userinfo_never_reaches_another_host() {
    let grant = "http://allowed.example:*";
    assert!(http_allows(grant, "http://allowed.example:8080/x"));
    assert!(!http_allows(
        grant,
        "http://allowed.example:1@127.0.0.1:8080/"
    ));
    assert!(!http_allows(grant, "http://u:p@allowed.example/"));
    assert!(check_url("http://allowed.example@127.0.0.1/").is_err());
    assert!(!http_allows(
        "http://127.0.0.1:*",
        "http://127.0.0.1:1@127.0.0.2:80/"
    ));
}

#[test]
fn http_star_stays_within_a_label_and_a_segment() {
    let g = "https://*.internal/api/*";
    assert!(http_allows(g, "https://status.internal/api/health"));
    assert!(http_allows(g, "https://STATUS.Internal/api/health?x=1"));
    assert!(!http_allows(g, "https://a.b.internal/api/health"));
    assert!(!http_allows(g, "https://internal/api/health"));
    assert!(!http_allows(g, "https://status.internal/api/a/b"));
    assert!(!http_allows(g, "https://status.internal.evil/api/x"));
    assert!(!http_allows(g, "http://status.internal/api/x"));
    assert!(!http_allows(g, "https://status.internal:8443/api/x"));
    assert!(http_allows(g, "https://status.internal:443/api/x"));
    assert!(http_allows(
        "https://app.internal/**",
        "https://app.internal/a/b/c"
    ));
    assert!(http_allows(
        "https://app.internal/**",
        "https://app.internal/"
    ));
    assert!(http_allows("https://h/a/**/z", "https://h/a/z"));
    assert!(http_allows("https://h/a/**/z", "https://h/a/b/c/z"));
    assert!(!http_allows("https://h/a/**/z", "https://h/a/b/c"));
    assert!(http_allows("http://h:1/stats*", "http://h:1/stats;csv"));
    assert!(!http_allows("http://h:1/stats*", "http://h:1/stats/x"));
}

#[test]
fn http_dot_segments_are_refused_raw_and_encoded() {
    let g = "http://h/api/*";
    for url in [
        "http://h/api/../admin",
        "http://h/api/./x",
        "http://h/api/%2e%2e/admin",
        "http://h/api/%2E./admin",
        "http://h/api/.%2e/admin",
        "http://h/api/..;/admin",
        "http://h/api\\..\\admin",
        "http://h/api/a%2fb",
        "http://h/api/a%5Cb",
        "http:h/api/../admin",
        "http://h/api/.\t./admin",
    ] {
        assert!(check_url(url).is_err(), "{url} must be refused");
        assert!(!http_allows(g, url), "{url}");
    }
    // A dot inside a segment is a name, not a dot segment.
    assert!(http_allows(g, "http://h/api/..x"));
    assert!(check_url("http://h/a?next=../b").is_ok());
}

#[test]
fn http_schemes_hosts_and_ip_literals() {
    assert!(check_url("file:///etc/passwd").is_err());
    assert!(check_url("ftp://h/").is_err());
    assert!(check_url("http://h./").is_err());
    // WHATWG IPv4 forms are the address they reach.
    assert!(http_allows("http://127.0.0.*:*", "http://127.1:9/"));
    assert!(http_allows("http://127.0.0.*:*", "http://0x7f.0.0.1:9/"));
    assert!(!http_allows(
        "http://127.0.0.*:*",
        "http://127.0.0.1.attacker.example:9/"
    ));
    assert!(!http_allows("http://127.0.0.*:*", "http://localhost:9/"));
    assert!(http_allows("http://[::1]:*", "http://[::1]:8080/"));
    assert!(!http_allows("http://[::1]:*", "http://[::2]:8080/"));
    assert!(http_allows(
        "https://bücher.example/",
        "https://xn--bcher-kva.example/"
    ));
    assert!(http_allows(
        "https://xn--bcher-kva.example/",
        "https://BÜCHER.example/"
    ));
}

#[test]
fn http_grant_syntax() {
    for bad in [
        "status.internal/*",
        "https://*/x",
        "https://a@b/",
        "https://h:0/",
        "https://h:http/",
        "https://h/a/../b",
        "https://h/a**/b",
        "https://10.0.0/x",
        "https://h./",
        "https://a..b/",
    ] {
        assert!(HttpGrant::parse(bad).is_err(), "{bad} must not parse");
    }
    for (text, shown) in [
        ("https://status.internal/*", "https://status.internal/*"),
        ("http://127.0.0.1:*", "http://127.0.0.1:*"),
        ("https://app.internal:443/**", "https://app.internal/**"),
    ] {
        assert_eq!(HttpGrant::parse(text).unwrap().to_string(), shown);
    }
}

#[test]
fn headers_that_steer_the_request_are_refused() {
    for h in [
        "Host",
        "host",
        " HOST",
        ":authority",
        "Connection",
        "Keep-Alive",
        "Proxy-Authorization",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
    ] {
        let err = check_headers([h]).unwrap_err();
        assert_eq!(err, RequestError::Header(h.to_string()));
    }
    assert!(check_headers(["Accept", "Authorization", "X-Host"]).is_ok());
}

#[test]
fn net_ip_patterns_match_only_ip_literals() {
    assert!(net_allows("127.0.0.*:5432", "127.0.0.1:5432"));
    assert!(!net_allows(
        "127.0.0.*:5432",
        "127.0.0.1.attacker.example:5432"
    ));
    assert!(!net_allows("127.0.0.*:5432", "127.0.0.1:5433"));
    assert!(!net_allows("127.0.0.*:*", "localhost:5432"));
    assert!(net_allows("127.0.0.*:*", "127.1:5432"));
    assert!(!net_allows("127.0.0.1:*", "[::ffff:127.0.0.1]:80"));
    assert!(net_allows("[::1]:443", "[::1]:443"));
    assert!(net_allows("[::1]:443", "[0:0::1]:443"));
}

#[test]
fn net_names_match_label_wise() {
    assert!(net_allows("*.internal:5432", "db.internal:5432"));
    assert!(net_allows("*.internal:5432", "DB.Internal:5432"));
    assert!(!net_allows("*.internal:5432", "a.db.internal:5432"));
    assert!(!net_allows("db.internal:*", "db.internal.:5432"));
    assert!(!net_allows("db.internal:*", "db.internal.evil:5432"));
    assert!(!net_allows("db-*.internal:*", "db.internal:1"));
    assert!(net_allows("db-*.internal:*", "db-2.internal:1"));
    assert!(!net_allows("localhost:*", "127.0.0.1:1"));
    for bad in [
        "db", "db:0", "db:http", "*:443", ":1", "1.2.3:4", "a..b:1", "[zz]:1",
    ] {
        assert!(NetGrant::parse(bad).is_err(), "{bad} must not parse");
    }
    assert!(NetTarget::parse("db").is_err());
    assert!(NetTarget::parse("db:0").is_err());
    assert!(NetTarget::parse(":1").is_err());
}

#[test]
fn unix_grants_are_a_directory_and_a_name() {
    let cwd = Path::new("/work");
    let g = UnixGrant::parse("/run/haproxy/*.sock").unwrap();
    let allows =
        |p: &str| lexical_socket_path(cwd, p).is_ok_and(|(dir, name)| g.allows(cwd, &dir, &name));
    assert!(allows("/run/haproxy/admin.sock"));
    assert!(allows("/run/haproxy/./admin.sock"));
    assert!(allows("//run//haproxy/admin.sock"));
    assert!(!allows("/run/haproxy/../../other.sock"));
    assert!(!allows("/run/haproxy/sub/admin.sock"));
    assert!(!allows("/run/docker.sock"));
    assert!(!allows("/run/haproxy/admin.sock/x"));
    let rel = UnixGrant::parse("./sockets/app.sock").unwrap();
    let (dir, name) = lexical_socket_path(cwd, "sockets/app.sock").unwrap();
    assert!(rel.allows(cwd, &dir, &name));
    for bad in ["", "/run/../x.sock", "/run/*/admin.sock", "/"] {
        assert!(UnixGrant::parse(bad).is_err(), "{bad:?} must not parse");
    }
}
