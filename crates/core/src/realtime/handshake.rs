//! The WebSocket opening handshake, done here rather than by tungstenite.
//!
//! The ticket travels in `Sec-WebSocket-Protocol`, and tungstenite's client traces every
//! request it builds, headers included — at `trace` level anyone's log filter could turn
//! the ticket into a log line. So the session writes the upgrade request itself (TCP, TLS
//! for `wss://`, RFC 6455 §4.1 checks on the answer) and hands tungstenite only the
//! established stream. Reading the answer is bounded in size; the caller bounds it in time.

use std::sync::{Arc, OnceLock};

use http::{StatusCode, Uri};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::wire;

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The most a handshake answer may take, headers included.
const MAX_RESPONSE_BYTES: usize = 8 * 1024;

/// Why a connection could not be made; the text is safe to show (it never holds the
/// ticket or the key).
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    #[error("relay refused the terminal key")]
    Unauthorized,
    #[error("relay unreachable: {0}")]
    Unreachable(String),
    #[error("relay answered unexpectedly: {0}")]
    Protocol(String),
    #[error("relay did not answer within {0} ms")]
    Timeout(u128),
    #[error("relay is busy; retrying later")]
    Busy {
        retry_after: Option<std::time::Duration>,
    },
}

/// Opens `url` (`ws://` or `wss://`) offering `protocols` (the plain subprotocol and the
/// ticket); succeeds only if the server switched protocols and selected the plain one.
pub(crate) async fn connect(
    url: &str,
    protocols: &str,
    config: WebSocketConfig,
) -> Result<Ws, ConnectError> {
    let uri: Uri = url
        .parse()
        .map_err(|_| ConnectError::Protocol("relay URL is not a URL".into()))?;
    let tls = match uri.scheme_str() {
        Some("wss") => true,
        Some("ws") => false,
        _ => return Err(ConnectError::Protocol("relay URL is not ws(s)://".into())),
    };
    let host = uri
        .host()
        .ok_or_else(|| ConnectError::Protocol("relay URL has no host".into()))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let default_port = if tls { 443 } else { 80 };
    let port = uri.port_u16().unwrap_or(default_port);
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let host_header = match uri.port_u16() {
        Some(p) if p != default_port => format!("{}:{p}", uri.host().unwrap_or_default()),
        _ => uri.host().unwrap_or_default().to_owned(),
    };

    let tcp = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| ConnectError::Unreachable(e.to_string()))?;
    let _ = tcp.set_nodelay(true);
    let mut stream = if tls {
        MaybeTlsStream::Rustls(tls_connect(&host, tcp).await?)
    } else {
        MaybeTlsStream::Plain(tcp)
    };

    let key = generate_key();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host_header}\r\nConnection: Upgrade\r\n\
         Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\
         Sec-WebSocket-Protocol: {protocols}\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| ConnectError::Unreachable(e.to_string()))?;
    stream
        .flush()
        .await
        .map_err(|e| ConnectError::Unreachable(e.to_string()))?;

    let (head, rest) = read_head(&mut stream).await?;
    check_answer(&head, &key)?;
    Ok(WebSocketStream::from_partially_read(stream, rest, Role::Client, Some(config)).await)
}

async fn tls_connect(
    host: &str,
    tcp: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, ConnectError> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    crate::init_tls();
    let config = CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            Arc::new(
                rustls::ClientConfig::builder()
                    .with_root_certificates(roots)
                    .with_no_client_auth(),
            )
        })
        .clone();
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|_| ConnectError::Protocol(format!("'{host}' is not a TLS server name")))?;
    tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| ConnectError::Unreachable(format!("TLS: {e}")))
}

/// Reads up to the end of the response head; returns it and whatever followed it.
async fn read_head(
    stream: &mut MaybeTlsStream<TcpStream>,
) -> Result<(String, Vec<u8>), ConnectError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = find_head_end(&buf) {
            let rest = buf.split_off(end);
            let head = String::from_utf8(buf)
                .map_err(|_| ConnectError::Protocol("handshake answer is not text".into()))?;
            return Ok((head, rest));
        }
        if buf.len() >= MAX_RESPONSE_BYTES {
            return Err(ConnectError::Protocol("handshake answer too large".into()));
        }
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| ConnectError::Unreachable(e.to_string()))?;
        if n == 0 {
            return Err(ConnectError::Unreachable(
                "relay closed the connection during the handshake".into(),
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// RFC 6455 §4.1: 101, `Upgrade: websocket`, `Connection: upgrade`, the accept key for
/// our key, and a selected subprotocol — which must be the plain one, never the ticket.
fn check_answer(head: &str, key: &str) -> Result<(), ConnectError> {
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let code = status_line
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
        .and_then(|c| StatusCode::from_u16(c).ok())
        .ok_or_else(|| ConnectError::Protocol("malformed handshake status line".into()))?;
    let header = |name: &str| -> Option<&str> {
        head.split("\r\n").skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    };
    match code {
        StatusCode::SWITCHING_PROTOCOLS => {}
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => return Err(ConnectError::Unauthorized),
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
            let retry_after = header("retry-after")
                .and_then(|v| v.parse::<u64>().ok())
                .map(|s| std::time::Duration::from_secs(s.min(300)));
            return Err(ConnectError::Busy { retry_after });
        }
        other => return Err(ConnectError::Protocol(format!("upgrade answered {other}"))),
    }
    let upgrade_ok = header("upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let connection_ok = header("connection").is_some_and(|v| {
        v.split(',')
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
    });
    if !upgrade_ok || !connection_ok {
        return Err(ConnectError::Protocol(
            "relay did not upgrade to WebSocket".into(),
        ));
    }
    if header("sec-websocket-accept") != Some(derive_accept_key(key.as_bytes()).as_str()) {
        return Err(ConnectError::Protocol("wrong Sec-WebSocket-Accept".into()));
    }
    if header("sec-websocket-protocol") != Some(wire::SUBPROTOCOL) {
        return Err(ConnectError::Protocol(
            "relay did not select paydesk.v1".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: &str, accept: &str, protocol: &str) -> String {
        format!(
            "HTTP/1.1 {status}\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n\
             Sec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: {protocol}\r\n\r\n"
        )
    }

    #[test]
    fn the_answer_must_accept_our_key_and_select_the_plain_protocol() {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let good = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
        assert!(check_answer(&answer("101 Switching Protocols", good, "paydesk.v1"), key).is_ok());
        assert!(matches!(
            check_answer(&answer("101 Switching Protocols", "bad", "paydesk.v1"), key),
            Err(ConnectError::Protocol(_))
        ));
        // A server that echoes the ticket protocol is refused: it would be repeating a secret.
        let echoed = check_answer(&answer("101 Switching Protocols", good, "ticket.abc"), key);
        assert!(echoed.is_err());
        assert!(!echoed.unwrap_err().to_string().contains("abc"));
        assert!(matches!(
            check_answer("HTTP/1.1 401 Unauthorized\r\n\r\n", key),
            Err(ConnectError::Unauthorized)
        ));
        assert!(check_answer("garbage", key).is_err());
    }

    #[test]
    fn the_head_ends_at_the_blank_line() {
        assert_eq!(
            find_head_end(b"HTTP/1.1 101\r\nA: b\r\n\r\n\x81\x05"),
            Some(22)
        );
        assert_eq!(find_head_end(b"HTTP/1.1 101\r\n"), None);
    }
}
