//! A network receipt printer on loopback that keeps what it is sent.
//!
//! It listens like port 9100 on a real printer, answers `DLE EOT` status queries the way
//! a printer does (or stays silent, like printers without a status channel), and can
//! misbehave on purpose: stop reading part-way through a receipt, or be switched off so
//! that connections are refused. Every connection is one [`Job`], handed to the test when
//! the client closes it or the printer stops reading. The listener and every connection
//! belong to the [`FakePrinter`] and end with it.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{mpsc, Mutex};
use tokio::task::{JoinHandle, JoinSet};

use super::decode::{decode, DecodeError, Decoded};
use crate::escpos::{PaperSensor, DLE, EOT};

/// Jobs kept for the test to collect; later ones are dropped (with a warning) past this.
const KEPT_JOBS: usize = 64;
/// A printer's receive buffer is a few KiB; so is ours, so that not reading shows.
const RECEIVE_BUFFER: u32 = 4 * 1024;

/// How the fake printer behaves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Behaviour {
    /// Answers status queries with this paper state; `None`: never answers.
    pub paper: Option<PaperSensor>,
    /// Stops reading once a connection has sent this many bytes, and holds it open.
    pub stop_reading_after: Option<usize>,
}

impl Behaviour {
    /// A printer without a status channel that takes everything.
    pub fn silent() -> Behaviour {
        Behaviour::default()
    }

    /// A printer that answers status queries with `paper`.
    pub fn answering(paper: PaperSensor) -> Behaviour {
        Behaviour {
            paper: Some(paper),
            ..Behaviour::default()
        }
    }

    pub fn stop_reading_after(mut self, bytes: usize) -> Behaviour {
        self.stop_reading_after = Some(bytes);
        self
    }
}

/// What one connection sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    pub bytes: Vec<u8>,
    /// The client finished and closed the connection (not cut off by the printer).
    pub complete: bool,
}

impl Job {
    pub fn decode(&self) -> Result<Decoded, DecodeError> {
        decode(&self.bytes)
    }
}

pub struct FakePrinter {
    addr: SocketAddr,
    jobs: Mutex<mpsc::Receiver<Job>>,
    server: Option<JoinHandle<()>>,
}

impl FakePrinter {
    /// Starts listening on a free loopback port.
    pub async fn start(behaviour: Behaviour) -> io::Result<FakePrinter> {
        let socket = TcpSocket::new_v4()?;
        socket.set_recv_buffer_size(RECEIVE_BUFFER)?;
        socket.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let listener = socket.listen(16)?;
        let addr = listener.local_addr()?;
        let (tx, rx) = mpsc::channel(KEPT_JOBS);
        let server = tokio::spawn(serve(listener, behaviour, tx));
        Ok(FakePrinter {
            addr,
            jobs: Mutex::new(rx),
            server: Some(server),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `tcp://127.0.0.1:<port>`, for the printer settings.
    pub fn url(&self) -> String {
        format!("tcp://{}", self.addr)
    }

    /// The next job, once its connection ends or the printer stops reading it. Wrap in a
    /// timeout: a test waits for a job it caused.
    pub async fn next_job(&self) -> Option<Job> {
        self.jobs.lock().await.recv().await
    }

    /// Switches the printer off: the port closes (connections are refused from now on)
    /// and open connections are dropped.
    pub async fn switch_off(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
            let _ = server.await;
        }
    }

    /// An address on loopback where nothing listens: connections are refused.
    pub fn refusing_url() -> io::Result<String> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        drop(listener);
        Ok(format!("tcp://{addr}"))
    }
}

impl Drop for FakePrinter {
    fn drop(&mut self) {
        if let Some(server) = &self.server {
            server.abort();
        }
    }
}

/// A printer whose network stack is up but which never completes a connection: its accept
/// queue is full, so the kernel drops new connection requests and connecting hangs until
/// the caller's deadline (as with a printer address that nothing answers on).
pub struct UnansweringPrinter {
    _listener: TcpListener,
    _queued: TcpStream,
    addr: SocketAddr,
}

impl UnansweringPrinter {
    pub async fn start() -> io::Result<UnansweringPrinter> {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        // A backlog of 0 holds one connection; it is never accepted.
        let listener = socket.listen(0)?;
        let addr = listener.local_addr()?;
        let queued = TcpStream::connect(addr).await?;
        Ok(UnansweringPrinter {
            _listener: listener,
            _queued: queued,
            addr,
        })
    }

    pub fn url(&self) -> String {
        format!("tcp://{}", self.addr)
    }
}

async fn serve(listener: TcpListener, behaviour: Behaviour, jobs: mpsc::Sender<Job>) {
    // Dropped with this task: every connection ends with the printer.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(connection(stream, behaviour, jobs.clone()));
                }
                Err(e) => tracing::debug!(error = %e, "fake printer accept failed"),
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn connection(mut stream: TcpStream, behaviour: Behaviour, jobs: mpsc::Sender<Job>) {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 512];
    // Some(true): the client closed; Some(false): the printer stopped reading; None: reset.
    let ended = loop {
        let room = match behaviour.stop_reading_after {
            Some(limit) => limit.saturating_sub(bytes.len()).min(buf.len()),
            None => buf.len(),
        };
        if room == 0 {
            break Some(false);
        }
        let n = match stream.read(&mut buf[..room]).await {
            Ok(0) => break Some(true),
            Ok(n) => n,
            Err(_) => break None,
        };
        for &b in &buf[..n] {
            bytes.push(b);
            let query = bytes.len() >= 3 && bytes[bytes.len() - 3..bytes.len() - 1] == [DLE, EOT];
            if let (true, Some(paper)) = (query, behaviour.paper) {
                let answer = if b == 4 { paper.status_byte() } else { 0x12 };
                // A client gone before reading its answer shows as the read's error next.
                let _ = stream.write_all(&[answer]).await;
            }
        }
    };
    let complete = ended == Some(true);
    if jobs.try_send(Job { bytes, complete }).is_err() {
        tracing::warn!("fake printer: job not kept (too many uncollected)");
    }
    if ended == Some(false) {
        // Not reading, not closing: a printer that has stopped. Ends with the printer.
        std::future::pending::<()>().await;
    }
}
