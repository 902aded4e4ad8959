//! An HTTP CONNECT proxy on loopback, as a shop's network has one.
//!
//! It resolves names itself, from a table the test gives it, so a name only the proxy
//! knows proves that a client went through it. It records each CONNECT request head
//! (all a proxy ever sees of a TLS connection in clear) and then only copies bytes.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub struct ConnectProxy {
    addr: SocketAddr,
    heads: Arc<Mutex<Vec<String>>>,
    stop: CancellationToken,
    tasks: TaskTracker,
}

impl ConnectProxy {
    /// Listens on 127.0.0.1:0; `routes` maps `host:port` as clients name it to where it is.
    pub async fn start(routes: &[(&str, SocketAddr)]) -> ConnectProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let routes: Arc<HashMap<String, SocketAddr>> = Arc::new(
            routes
                .iter()
                .map(|(name, to)| ((*name).to_owned(), *to))
                .collect(),
        );
        let heads = Arc::new(Mutex::new(Vec::new()));
        let stop = CancellationToken::new();
        let tasks = TaskTracker::new();
        let (h, s, t) = (heads.clone(), stop.clone(), tasks.clone());
        tasks.spawn(async move {
            loop {
                let (socket, _) = tokio::select! {
                    _ = s.cancelled() => return,
                    a = listener.accept() => match a { Ok(a) => a, Err(_) => continue },
                };
                let (routes, heads, stop) = (routes.clone(), h.clone(), s.clone());
                t.spawn(async move {
                    tokio::select! {
                        _ = stop.cancelled() => {}
                        _ = tunnel(socket, &routes, &heads) => {}
                    }
                });
            }
        });
        ConnectProxy {
            addr,
            heads,
            stop,
            tasks,
        }
    }

    /// `http://127.0.0.1:PORT`, for `HTTPS_PROXY`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every CONNECT request head received so far.
    pub fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }

    pub async fn shutdown(self) {
        self.stop.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }
}

async fn tunnel(
    mut client: TcpStream,
    routes: &HashMap<String, SocketAddr>,
    heads: &Mutex<Vec<String>>,
) {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 1024];
        match client.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.len() > 8192 {
            return;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    heads.lock().unwrap().push(head.clone());
    let mut parts = head.split_whitespace();
    let (Some("CONNECT"), Some(target)) = (parts.next(), parts.next()) else {
        let _ = client
            .write_all(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n")
            .await;
        return;
    };
    let Some(to) = routes.get(target) else {
        let _ = client
            .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
            .await;
        return;
    };
    let Ok(mut upstream) = TcpStream::connect(to).await else {
        let _ = client
            .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
            .await;
        return;
    };
    if client
        .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        .await
        .is_err()
    {
        return;
    }
    // Anything the client sent after its head goes on first.
    if upstream.write_all(&buf[head_end..]).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}
