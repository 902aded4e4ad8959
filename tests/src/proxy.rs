//! A fault-injecting TCP proxy, put between a terminal and the relay (or the API).
//!
//! It forwards bytes both ways and, on command, misbehaves the way networks do:
//! **blackhole** (bytes stop flowing and nothing is closed — no FIN, no RST — the
//! half-open link a watchdog must catch), **cut** (every open connection closed now),
//! **delay** (each chunk waits before it is forwarded) and **refuse** (new connections are
//! closed at once). It counts connections and bytes, so a benchmark can measure what a
//! payment costs on the wire.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How the proxy treats traffic right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Forward,
    /// Hold every byte; close nothing. New connections are accepted and then ignored.
    Blackhole,
    /// Forward each chunk after this delay.
    Delay(Duration),
    /// Close new connections at once (a port with nothing behind it).
    Refuse,
}

/// Bytes and connections seen so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    pub connections: u64,
    /// Client → server.
    pub bytes_up: u64,
    /// Server → client.
    pub bytes_down: u64,
}

struct Inner {
    target: SocketAddr,
    mode: watch::Sender<Mode>,
    /// Cancelled and replaced on every cut: closes the connections opened before.
    generation: Mutex<CancellationToken>,
    stop: CancellationToken,
    tasks: TaskTracker,
    connections: AtomicU64,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
}

impl Inner {
    fn generation(&self) -> CancellationToken {
        self.generation
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// A running proxy. Dropping it stops accepting; [`FaultProxy::shutdown`] also waits.
pub struct FaultProxy {
    addr: SocketAddr,
    inner: Arc<Inner>,
}

impl FaultProxy {
    /// Listens on 127.0.0.1:0 and forwards to `target`.
    pub async fn start(target: SocketAddr) -> Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("proxy cannot listen")?;
        let addr = listener.local_addr()?;
        let (mode, _) = watch::channel(Mode::Forward);
        let inner = Arc::new(Inner {
            target,
            mode,
            generation: Mutex::new(CancellationToken::new()),
            stop: CancellationToken::new(),
            tasks: TaskTracker::new(),
            connections: AtomicU64::new(0),
            bytes_up: AtomicU64::new(0),
            bytes_down: AtomicU64::new(0),
        });
        inner.tasks.spawn(accept_loop(listener, inner.clone()));
        Ok(FaultProxy { addr, inner })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set(&self, mode: Mode) {
        self.inner.mode.send_replace(mode);
    }

    pub fn mode(&self) -> Mode {
        *self.inner.mode.borrow()
    }

    /// Stops forwarding without closing anything (a half-open link).
    pub fn blackhole(&self) {
        self.set(Mode::Blackhole);
    }

    pub fn forward(&self) {
        self.set(Mode::Forward);
    }

    /// Closes every connection open now; later ones are served by the current mode.
    pub fn cut(&self) {
        let mut g = self
            .inner
            .generation
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        g.cancel();
        *g = CancellationToken::new();
    }

    pub fn traffic(&self) -> Traffic {
        Traffic {
            connections: self.inner.connections.load(Ordering::Relaxed),
            bytes_up: self.inner.bytes_up.load(Ordering::Relaxed),
            bytes_down: self.inner.bytes_down.load(Ordering::Relaxed),
        }
    }

    /// Stops accepting, closes every connection and waits for every task.
    pub async fn shutdown(self) {
        self.inner.stop.cancel();
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.inner.stop.cancel();
    }
}

async fn accept_loop(listener: TcpListener, inner: Arc<Inner>) {
    loop {
        let accepted = tokio::select! {
            _ = inner.stop.cancelled() => return,
            a = listener.accept() => a,
        };
        let Ok((client, _)) = accepted else {
            continue;
        };
        inner.connections.fetch_add(1, Ordering::Relaxed);
        if *inner.mode.borrow() == Mode::Refuse {
            drop(client);
            continue;
        }
        let conn_inner = inner.clone();
        inner.tasks.spawn(async move {
            let generation = conn_inner.generation();
            let stop = conn_inner.stop.clone();
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = generation.cancelled() => {}
                _ = serve(client, &conn_inner) => {}
            }
        });
    }
}

async fn serve(client: TcpStream, inner: &Arc<Inner>) {
    // While blackholed, a new connection goes nowhere: hold it open and silent.
    wait_not_blackholed(inner).await;
    let Ok(server) = TcpStream::connect(inner.target).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    tokio::select! {
        _ = pump(cr, sw, inner, &inner.bytes_up) => {}
        _ = pump(sr, cw, inner, &inner.bytes_down) => {}
    }
}

async fn wait_not_blackholed(inner: &Inner) {
    let mut rx = inner.mode.subscribe();
    while *rx.borrow_and_update() == Mode::Blackhole {
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Copies one direction, applying the mode to every chunk.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, inner: &Inner, count: &AtomicU64) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => {
                let _ = to.shutdown().await;
                return;
            }
            Ok(n) => n,
        };
        // Held, not dropped: TCP would retransmit once the path heals.
        wait_not_blackholed(inner).await;
        let mode = *inner.mode.borrow();
        if let Mode::Delay(d) = mode {
            tokio::time::sleep(d).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
        count.fetch_add(n as u64, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn echo_server() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut b = [0u8; 1024];
                    while let Ok(n) = s.read(&mut b).await {
                        if n == 0 || s.write_all(&b[..n]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn forwards_then_blackholes_without_closing_then_cuts() {
        let proxy = FaultProxy::start(echo_server().await).await.unwrap();
        let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
        c.write_all(b"hi").await.unwrap();
        let mut b = [0u8; 2];
        c.read_exact(&mut b).await.unwrap();
        assert_eq!(&b, b"hi");

        proxy.blackhole();
        c.write_all(b"lost").await.unwrap();
        let mut b = [0u8; 4];
        let silent = tokio::time::timeout(Duration::from_millis(300), c.read(&mut b)).await;
        assert!(silent.is_err(), "a blackhole neither answers nor closes");

        proxy.forward();
        c.read_exact(&mut b).await.unwrap();
        assert_eq!(&b, b"lost", "held bytes arrive once the path heals");

        proxy.cut();
        let n = tokio::time::timeout(Duration::from_secs(2), c.read(&mut b))
            .await
            .unwrap()
            .unwrap_or(0);
        assert_eq!(n, 0, "cut closes the connection");
        assert!(proxy.traffic().bytes_up >= 6);
        proxy.shutdown().await;
    }
}
