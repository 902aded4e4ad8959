//! The WebSocket opening handshake, done here rather than by tungstenite.
//!
//! The ticket travels in `Sec-WebSocket-Protocol`, and tungstenite's client traces every
//! request it builds, headers included — at `trace` level anyone's log filter could turn
//! the ticket into a log line. So the session writes the upgrade request itself (TCP,
//! through the shop's HTTP proxy with CONNECT when the environment names one, TLS for
//! `wss://` with the roots of [`super::tls`], RFC 6455 §4.1 checks on the answer) and hands
//! tungstenite only the established stream. Reading answers is bounded in size; the caller
//! bounds it in time. The proxy sees only the host and port: the ticket and everything
//! after travel inside TLS.

use std::net::IpAddr;

use base64::Engine as _;
use http::{StatusCode, Uri};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::tls::RelayTransport;
use crate::secrets::Secret;
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
/// ticket), through a proxy when `transport` says so; succeeds only if the server switched
/// protocols and selected the plain one.
pub(crate) async fn connect(
    url: &str,
    protocols: &str,
    config: WebSocketConfig,
    transport: &RelayTransport,
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

    let tcp = match transport.proxies.for_target(tls, &host) {
        Some(proxy) => proxy.tunnel(&host, port).await?,
        None => TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| ConnectError::Unreachable(e.to_string()))?,
    };
    let _ = tcp.set_nodelay(true);
    let mut stream = if tls {
        MaybeTlsStream::Rustls(tls_connect(transport, &host, tcp).await?)
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
    transport: &RelayTransport,
    host: &str,
    tcp: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, ConnectError> {
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|_| ConnectError::Protocol(format!("'{host}' is not a TLS server name")))?;
    tokio_rustls::TlsConnector::from(transport.tls.clone())
        .connect(name, tcp)
        .await
        .map_err(|e| ConnectError::Unreachable(format!("TLS: {e}")))
}

/// The proxies the environment names, read once per session the way reqwest reads them
/// for the ticket request (and curl before it): `HTTPS_PROXY` for `wss://`, `HTTP_PROXY`
/// for `ws://` (either in lower case too, `ALL_PROXY` as the fallback), except for the
/// hosts `NO_PROXY` lists. Only `http://` proxies are spoken (CONNECT); credentials in the
/// proxy URL become a `Proxy-Authorization` header and never appear in logs or errors.
#[derive(Clone, Debug, Default)]
pub(crate) struct Proxies {
    https: Option<Proxy>,
    http: Option<Proxy>,
    no_proxy: Vec<String>,
}

/// One HTTP proxy: where it is and, when its URL has them, the credentials.
#[derive(Clone, Debug)]
pub(crate) struct Proxy {
    host: String,
    port: u16,
    /// `Basic <base64(user:password)>`.
    authorization: Option<Secret>,
    /// A proxy URL this till cannot use (say `socks5://`): connecting fails with this.
    unusable: Option<String>,
}

impl Proxies {
    pub(crate) fn from_env() -> Proxies {
        Proxies::from_lookup(|name| std::env::var(name).ok())
    }

    pub(crate) fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Proxies {
        let first = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| get(n).filter(|v| !v.trim().is_empty()))
        };
        let all = first(&["ALL_PROXY", "all_proxy"]);
        // HTTP_PROXY in upper case is a request header under CGI (httpoxy): skipped there.
        let cgi = get("REQUEST_METHOD").is_some();
        let http_names: &[&str] = if cgi {
            &["http_proxy"]
        } else {
            &["HTTP_PROXY", "http_proxy"]
        };
        Proxies {
            https: first(&["HTTPS_PROXY", "https_proxy"])
                .or_else(|| all.clone())
                .map(|v| Proxy::parse(&v)),
            http: first(http_names).or(all).map(|v| Proxy::parse(&v)),
            no_proxy: first(&["NO_PROXY", "no_proxy"])
                .map(|v| {
                    v.split(',')
                        .map(|e| e.trim().to_ascii_lowercase())
                        .filter(|e| !e.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// The proxy to reach `host` through, if any.
    pub(crate) fn for_target(&self, tls: bool, host: &str) -> Option<&Proxy> {
        let proxy = if tls { &self.https } else { &self.http };
        let proxy = proxy.as_ref()?;
        (!self.bypass(host)).then_some(proxy)
    }

    /// `NO_PROXY`: `*`, host names (`example.com` and `.example.com` both match the
    /// domain and its subdomains), IP addresses and CIDR blocks; ports are ignored.
    fn bypass(&self, host: &str) -> bool {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let ip = host.parse::<IpAddr>().ok();
        self.no_proxy.iter().any(|entry| {
            if entry == "*" {
                return true;
            }
            if let (Some(ip), Some((net, bits))) = (ip, entry.split_once('/')) {
                return in_cidr(ip, net, bits);
            }
            let name = strip_port(entry).trim_start_matches('.');
            if let (Some(ip), Ok(e)) = (ip, name.parse::<IpAddr>()) {
                return ip == e;
            }
            !name.is_empty() && (host == name || host.ends_with(&format!(".{name}")))
        })
    }
}

fn strip_port(entry: &str) -> &str {
    let entry = entry.trim_start_matches('[');
    if let Some((h, _)) = entry.split_once(']') {
        return h;
    }
    match entry.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') && p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => entry,
    }
}

fn in_cidr(ip: IpAddr, net: &str, bits: &str) -> bool {
    let (Ok(net), Ok(bits)) = (net.parse::<IpAddr>(), bits.parse::<u32>()) else {
        return false;
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

impl Proxy {
    /// `http://[user:password@]host[:port]`, or a bare `host:port`.
    fn parse(value: &str) -> Proxy {
        let value = value.trim();
        let unusable = |why: String| Proxy {
            host: String::new(),
            port: 0,
            authorization: None,
            unusable: Some(why),
        };
        let rest = match value.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some((scheme, _)) => {
                return unusable(format!(
                    "the proxy's scheme '{scheme}' is not supported (only http://)"
                ))
            }
            None => value,
        };
        let rest = rest.split('/').next().unwrap_or_default();
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6.split_once(']').unwrap_or((v6, ""));
            (h.to_owned(), after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p)),
                None => (hostport.to_owned(), None),
            }
        };
        let port = match port.map(str::parse::<u16>) {
            None => 80,
            Some(Ok(p)) => p,
            Some(Err(_)) => return unusable("the proxy URL has a bad port".into()),
        };
        if host.is_empty() {
            return unusable("the proxy URL has no host".into());
        }
        let authorization = userinfo.map(|u| {
            let (user, password) = u.split_once(':').unwrap_or((u, ""));
            let plain = format!("{}:{}", percent_decode(user), percent_decode(password));
            Secret::new(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(plain)
            ))
        });
        Proxy {
            host,
            port,
            authorization,
            unusable: None,
        }
    }

    /// A TCP connection to `host:port` through this proxy (`CONNECT`), ready for TLS.
    pub(crate) async fn tunnel(&self, host: &str, port: u16) -> Result<TcpStream, ConnectError> {
        if let Some(why) = &self.unusable {
            return Err(ConnectError::Unreachable(why.clone()));
        }
        let mut tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| ConnectError::Unreachable(format!("proxy: {e}")))?;
        let target = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let auth = self
            .authorization
            .as_ref()
            .map(|a| format!("Proxy-Authorization: {}\r\n", a.expose()))
            .unwrap_or_default();
        let request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n{auth}\r\n");
        tcp.write_all(request.as_bytes())
            .await
            .map_err(|e| ConnectError::Unreachable(format!("proxy: {e}")))?;
        let (head, rest) = read_head(&mut tcp).await?;
        let code = head
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or_else(|| ConnectError::Protocol("proxy answered garbage".into()))?;
        match code {
            200..=299 if rest.is_empty() => Ok(tcp),
            200..=299 => Err(ConnectError::Protocol(
                "proxy sent data before the tunnel was used".into(),
            )),
            407 => Err(ConnectError::Unreachable(
                "proxy wants credentials (407)".into(),
            )),
            other => Err(ConnectError::Unreachable(format!(
                "proxy refused the tunnel ({other})"
            ))),
        }
    }
}

/// `%XX` escapes in a proxy URL's user and password.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads up to the end of a response head; returns it and whatever followed it.
async fn read_head<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
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

    fn env(vars: &[(&str, &str)]) -> Proxies {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Proxies::from_lookup(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn the_proxy_comes_from_the_environment_as_curl_and_reqwest_read_it() {
        let p = env(&[("https_proxy", "http://proxy.shop:3128")]);
        let proxy = p.for_target(true, "relay.example").unwrap();
        assert_eq!((proxy.host.as_str(), proxy.port), ("proxy.shop", 3128));
        assert!(
            p.for_target(false, "relay.example").is_none(),
            "ws:// uses HTTP_PROXY"
        );

        let p = env(&[
            ("HTTPS_PROXY", "proxy:8080"),
            ("ALL_PROXY", "http://all:1"),
            (
                "NO_PROXY",
                "localhost, .internal.shop,10.0.0.0/8, 192.168.1.7:443,[::1]",
            ),
        ]);
        assert_eq!(p.for_target(true, "relay.example").unwrap().port, 8080);
        assert_eq!(p.for_target(false, "relay.example").unwrap().host, "all");
        for direct in [
            "localhost",
            "relay.internal.shop",
            "internal.shop",
            "10.1.2.3",
            "192.168.1.7",
            "[::1]",
        ] {
            assert!(
                p.for_target(true, direct).is_none(),
                "{direct} bypasses the proxy"
            );
        }
        for proxied in [
            "notinternal.shop",
            "11.0.0.1",
            "192.168.1.8",
            "localhost.evil",
        ] {
            assert!(
                p.for_target(true, proxied).is_some(),
                "{proxied} goes through it"
            );
        }
        assert!(env(&[("HTTPS_PROXY", "http://p:1"), ("no_proxy", "*")])
            .for_target(true, "x")
            .is_none());
        assert!(env(&[]).for_target(true, "relay.example").is_none());
        // Under CGI the upper-case HTTP_PROXY is a request header, not configuration.
        let cgi = env(&[("REQUEST_METHOD", "GET"), ("HTTP_PROXY", "http://evil:1")]);
        assert!(cgi.for_target(false, "relay.example").is_none());
    }

    #[test]
    fn proxy_credentials_become_a_header_and_never_show() {
        let p = Proxy::parse("http://till%40shop:hunter%3A2@[::1]:3128/");
        assert_eq!((p.host.as_str(), p.port), ("::1", 3128));
        let auth = p.authorization.clone().unwrap();
        let expected = base64::engine::general_purpose::STANDARD.encode("till@shop:hunter:2");
        assert_eq!(auth.expose(), format!("Basic {expected}"));
        let shown = format!("{p:?}");
        assert!(
            !shown.contains("hunter") && !shown.contains(&expected),
            "{shown}"
        );
        let socks = Proxy::parse("socks5://proxy:1080");
        assert!(socks.unusable.unwrap().contains("socks5"));
        assert_eq!(Proxy::parse("proxy.shop").port, 80);
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
