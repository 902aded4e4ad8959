//! Network printers: raw TCP to port 9100, with the paper status asked before and after.
//!
//! A printer that answers `DLE EOT 4` before the job is asked again after it: out of paper
//! before means nothing is sent (the cashier loads paper and prints again); no answer after
//! means the printer stopped reading mid-receipt, which the write alone cannot see, since a
//! short receipt fits the socket buffers whole. A printer that never answers is simply
//! written to, with the write deadline as the only guard.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{timeout, timeout_at, Instant};

use super::{BoxFuture, Delivery, Timeouts, Transport};
use crate::error::PrintError;
use crate::escpos::{PaperSensor, PAPER_STATUS_QUERY};

/// Our side of the connection buffers little, so a printer that stops reading shows as a
/// write that stops, not as bytes parked in this machine's kernel.
const SEND_BUFFER: u32 = 8 * 1024;

#[derive(Debug)]
pub(crate) struct Tcp {
    host: String,
    port: u16,
    printer: String,
}

impl Tcp {
    pub(crate) fn new(host: String, port: u16, printer: String) -> Tcp {
        Tcp {
            host,
            port,
            printer,
        }
    }

    async fn connect(&self, deadline: Instant) -> Result<TcpStream, PrintError> {
        let unreachable = || PrintError::Unreachable {
            printer: self.printer.clone(),
        };
        let addrs: Vec<SocketAddr> = match timeout_at(
            deadline,
            tokio::net::lookup_host((self.host.as_str(), self.port)),
        )
        .await
        {
            Ok(Ok(addrs)) => addrs.collect(),
            Ok(Err(e)) => {
                tracing::debug!(printer = %self.printer, error = %e, "printer host not found");
                return Err(unreachable());
            }
            Err(_) => return Err(unreachable()),
        };
        for addr in addrs {
            let socket = match addr {
                SocketAddr::V4(_) => TcpSocket::new_v4(),
                SocketAddr::V6(_) => TcpSocket::new_v6(),
            };
            let attempt = async {
                let socket = socket?;
                socket.set_send_buffer_size(SEND_BUFFER)?;
                socket.connect(addr).await
            };
            match timeout_at(deadline, attempt).await {
                Ok(Ok(stream)) => {
                    // Receipt bytes go out as soon as they are written.
                    let _ = stream.set_nodelay(true);
                    return Ok(stream);
                }
                Ok(Err(e)) => {
                    tracing::debug!(printer = %self.printer, %addr, error = %e, "connect failed");
                }
                Err(_) => {
                    tracing::debug!(printer = %self.printer, %addr, "connect timed out");
                    break;
                }
            }
        }
        Err(unreachable())
    }

    /// Asks for the paper sensor and waits for the answer until `deadline`. `Ok(None)`: no
    /// answer in time, or not a status byte.
    async fn paper(
        &self,
        stream: &mut TcpStream,
        deadline: Instant,
    ) -> Result<Option<PaperSensor>, PrintError> {
        match timeout_at(deadline, stream.write_all(&PAPER_STATUS_QUERY)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(self.lost(&e)),
            Err(_) => return Ok(None),
        }
        let mut byte = [0u8; 1];
        match timeout_at(deadline, stream.read(&mut byte)).await {
            Ok(Ok(1)) => Ok(PaperSensor::from_status(byte[0])),
            Ok(Ok(_)) => Err(self.lost(&io::ErrorKind::UnexpectedEof.into())),
            Ok(Err(e)) => Err(self.lost(&e)),
            Err(_) => Ok(None),
        }
    }

    fn lost(&self, error: &io::Error) -> PrintError {
        tracing::debug!(printer = %self.printer, %error, "printer connection lost");
        PrintError::ConnectionLost {
            printer: self.printer.clone(),
        }
    }

    async fn deliver(&self, job: &[u8], t: Timeouts) -> Result<Delivery, PrintError> {
        let mut stream = self.connect(Instant::now() + t.connect).await?;
        let before = self.paper(&mut stream, Instant::now() + t.status).await?;
        if before == Some(PaperSensor::Out) {
            return Err(PrintError::OutOfPaper {
                printer: self.printer.clone(),
                mid_receipt: false,
            });
        }
        let deadline = Instant::now() + t.write;
        let mut sent = 0;
        while sent < job.len() {
            match timeout_at(deadline, stream.write(&job[sent..])).await {
                Ok(Ok(0)) => return Err(self.lost(&io::ErrorKind::WriteZero.into())),
                Ok(Ok(n)) => sent += n,
                Ok(Err(e)) => return Err(self.lost(&e)),
                Err(_) => {
                    return Err(PrintError::Stalled {
                        printer: self.printer.clone(),
                        sent,
                        total: job.len(),
                    })
                }
            }
        }
        let mut after = None;
        if before.is_some() {
            // It answered before the job; silence now means it stopped reading mid-job.
            let confirm = deadline.max(Instant::now() + t.status);
            after = self.paper(&mut stream, confirm).await?;
            match after {
                None => {
                    return Err(PrintError::Stalled {
                        printer: self.printer.clone(),
                        sent,
                        total: job.len(),
                    })
                }
                Some(PaperSensor::Out) => {
                    return Err(PrintError::OutOfPaper {
                        printer: self.printer.clone(),
                        mid_receipt: true,
                    })
                }
                Some(_) => {}
            }
        }
        // Read whatever the printer sent unasked (a late status answer, automatic status
        // back): closing with unread bytes would reset the connection, and a reset can make
        // the printer drop what it has not printed yet. Then close our side.
        let mut unread = [0u8; 64];
        while matches!(stream.try_read(&mut unread), Ok(n) if n > 0) {}
        let _ = timeout(t.status, stream.shutdown()).await;
        Ok(Delivery {
            paper: after.or(before),
        })
    }
}

impl Transport for Tcp {
    fn send<'a>(
        &'a self,
        job: &'a [u8],
        timeouts: Timeouts,
    ) -> BoxFuture<'a, Result<Delivery, PrintError>> {
        Box::pin(self.deliver(job, timeouts))
    }
}
