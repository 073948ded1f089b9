//! Byte exchange for request/response protocols (RESP, HAProxy's runtime API):
//! send, then read up to N bytes or until a delimiter.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Hard ceiling on one exchange's reply, whatever the plugin asks for.
pub const MAX_REPLY: u32 = 8 << 20;

pub async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    data: &[u8],
    max_bytes: u32,
    delimiter: Option<&[u8]>,
) -> Result<Vec<u8>, String> {
    stream
        .write_all(data)
        .await
        .map_err(|e| format!("send: {e}"))?;
    stream.flush().await.map_err(|e| format!("send: {e}"))?;
    let max = max_bytes.clamp(1, MAX_REPLY) as usize;
    let mut out = Vec::with_capacity(max.min(64 << 10));
    let mut buf = [0u8; 8192];
    loop {
        let want = (max - out.len()).min(buf.len());
        let n = stream
            .read(&mut buf[..want])
            .await
            .map_err(|e| format!("receive: {e}"))?;
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
        if out.len() >= max {
            break;
        }
        if let Some(d) = delimiter.filter(|d| !d.is_empty())
            && out.windows(d.len()).any(|w| w == d)
        {
            break;
        }
    }
    Ok(out)
}
