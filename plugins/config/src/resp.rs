//! The Redis serialization protocol (RESP2): encoding commands and parsing a
//! stream of concatenated replies, as one pipelined exchange returns them.

/// One reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    Simple(String),
    Error(String),
    Integer(i64),
    /// `None` is RESP2's null bulk string (`$-1`).
    Bulk(Option<Vec<u8>>),
    /// `None` is the null array (`*-1`).
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// Text of a simple or bulk string.
    pub fn text(&self) -> Option<String> {
        match self {
            Reply::Simple(s) => Some(s.clone()),
            Reply::Bulk(Some(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            Reply::Integer(i) => Some(i.to_string()),
            _ => None,
        }
    }

    /// A short rendering for messages (bulk contents are not echoed).
    pub fn describe(&self) -> String {
        match self {
            Reply::Simple(s) => format!("+{s}"),
            Reply::Error(e) => format!("-{e}"),
            Reply::Integer(i) => format!(":{i}"),
            Reply::Bulk(None) => "a null bulk string".to_string(),
            Reply::Bulk(Some(b)) => format!("a {}-byte bulk string", b.len()),
            Reply::Array(None) => "a null array".to_string(),
            Reply::Array(Some(items)) => format!("an array of {}", items.len()),
        }
    }
}

/// Encodes a command as an array of bulk strings.
pub fn command(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Deepest nesting accepted, so a hostile server cannot exhaust the stack.
const MAX_DEPTH: usize = 32;
/// Largest element count or bulk length believed before reading it.
const MAX_LEN: i64 = 64 << 20;

/// Parses as many complete replies as `buf` holds. Returns them and whether
/// bytes of an incomplete reply remain; `Err` on a protocol violation.
pub fn parse_all(buf: &[u8]) -> Result<(Vec<Reply>, bool), String> {
    let mut pos = 0;
    let mut out = Vec::new();
    while pos < buf.len() {
        match parse(buf, pos, 0)? {
            Some((reply, next)) => {
                out.push(reply);
                pos = next;
            }
            None => return Ok((out, true)),
        }
    }
    Ok((out, false))
}

/// One reply at `pos`: `Ok(None)` when the buffer ends before it does.
fn parse(buf: &[u8], pos: usize, depth: usize) -> Result<Option<(Reply, usize)>, String> {
    if depth > MAX_DEPTH {
        return Err("replies nested too deeply".to_string());
    }
    let Some(&kind) = buf.get(pos) else {
        return Ok(None);
    };
    let Some(end) = find_crlf(buf, pos + 1) else {
        return Ok(None);
    };
    let line = std::str::from_utf8(&buf[pos + 1..end])
        .map_err(|_| format!("reply at byte {pos} is not UTF-8"))?;
    let next = end + 2;
    let number = || -> Result<i64, String> {
        line.parse::<i64>()
            .map_err(|_| format!("bad length or integer `{line}` at byte {pos}"))
    };
    Ok(Some(match kind {
        b'+' => (Reply::Simple(line.to_string()), next),
        b'-' => (Reply::Error(line.to_string()), next),
        b':' => (Reply::Integer(number()?), next),
        b'$' => {
            let len = number()?;
            if len < 0 {
                (Reply::Bulk(None), next)
            } else if len > MAX_LEN {
                return Err(format!("bulk string of {len} bytes at byte {pos}"));
            } else {
                let len = len as usize;
                if buf.len() < next + len + 2 {
                    return Ok(None);
                }
                if &buf[next + len..next + len + 2] != b"\r\n" {
                    return Err(format!(
                        "bulk string at byte {pos} is not terminated by CRLF"
                    ));
                }
                (
                    Reply::Bulk(Some(buf[next..next + len].to_vec())),
                    next + len + 2,
                )
            }
        }
        b'*' => {
            let count = number()?;
            if count < 0 {
                (Reply::Array(None), next)
            } else if count > MAX_LEN {
                return Err(format!("array of {count} elements at byte {pos}"));
            } else {
                let mut items = Vec::new();
                let mut at = next;
                for _ in 0..count {
                    match parse(buf, at, depth + 1)? {
                        Some((item, n)) => {
                            items.push(item);
                            at = n;
                        }
                        None => return Ok(None),
                    }
                }
                (Reply::Array(Some(items)), at)
            }
        }
        other => {
            return Err(format!(
                "unexpected reply type byte 0x{other:02x} at byte {pos}: not a RESP server?"
            ));
        }
    }))
}

fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|i| from + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_commands_as_bulk_arrays() {
        assert_eq!(command(&["PING"]), b"*1\r\n$4\r\nPING\r\n");
        assert_eq!(
            command(&["CONFIG", "GET", "maxmemory-policy"]),
            b"*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$16\r\nmaxmemory-policy\r\n"
        );
        // Binary-safe: CRLF inside an argument does not break framing.
        assert_eq!(
            command(&["AUTH", "a\r\nb"]),
            b"*2\r\n$4\r\nAUTH\r\n$4\r\na\r\nb\r\n"
        );
    }

    #[test]
    fn parses_pipelined_replies() {
        let buf = b"+OK\r\n+PONG\r\n*2\r\n$16\r\nmaxmemory-policy\r\n$11\r\nallkeys-lru\r\n*0\r\n-ERR unknown command 'CONFIG'\r\n:42\r\n$-1\r\n*-1\r\n";
        let (replies, partial) = parse_all(buf).unwrap();
        assert!(!partial);
        assert_eq!(
            replies,
            vec![
                Reply::Simple("OK".into()),
                Reply::Simple("PONG".into()),
                Reply::Array(Some(vec![
                    Reply::Bulk(Some(b"maxmemory-policy".to_vec())),
                    Reply::Bulk(Some(b"allkeys-lru".to_vec())),
                ])),
                Reply::Array(Some(vec![])),
                Reply::Error("ERR unknown command 'CONFIG'".into()),
                Reply::Integer(42),
                Reply::Bulk(None),
                Reply::Array(None),
            ]
        );
    }

    #[test]
    fn incomplete_replies_are_reported_not_guessed() {
        for cut in 1..=21 {
            let buf = b"+PONG\r\n*2\r\n$3\r\nfoo\r\n$3\r\nbar\r\n";
            let (replies, partial) = parse_all(&buf[..buf.len() - cut]).unwrap();
            assert!(partial, "cut {cut}");
            assert_eq!(replies.len(), 1, "cut {cut}");
        }
    }

    #[test]
    fn protocol_violations_are_errors() {
        assert!(parse_all(b"HTTP/1.1 400 Bad Request\r\n").is_err());
        assert!(parse_all(b"$3\r\nfooXX").is_err());
        assert!(parse_all(b":abc\r\n").is_err());
        let deep = "*1\r\n".repeat(100);
        assert!(parse_all(deep.as_bytes()).is_err());
    }
}
