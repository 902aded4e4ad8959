//! The operating system's print queue on Linux and macOS: CUPS's `lp` in raw mode.
//!
//! `lp -d <queue> -o raw` with the job on its standard input: the queue passes the ESC/POS
//! bytes to the printer untouched, so a printer already set up in CUPS (USB, network,
//! Bluetooth) needs no second configuration in PayDesk. `lp` returns once CUPS has the job;
//! whether the printer then prints it is CUPS's to report (`lpstat -p <queue>`), so an
//! accepted job is a delivered one here. The child is killed if the deadline passes.

use std::ffi::OsString;
use std::io;
use std::process::Stdio;

use tokio::io::AsyncWriteExt as _;
use tokio::process::Command;
use tokio::time::{timeout_at, Instant};

use super::{BoxFuture, Delivery, Timeouts, Transport};
use crate::error::PrintError;
use crate::target::Target;

/// The longest part of `lp`'s complaint shown to the cashier.
const MESSAGE_CHARS: usize = 200;

#[derive(Debug)]
pub struct Spooler {
    queue: Option<String>,
    program: OsString,
    printer: String,
}

impl Spooler {
    /// `lp` from `PATH`, to `queue` (or the default queue).
    pub fn new(queue: Option<String>) -> Spooler {
        let printer = Target::Queue {
            name: queue.clone(),
        }
        .describe();
        Spooler {
            queue,
            program: "lp".into(),
            printer,
        }
    }

    /// The same with another `lp` (a full path, for a system where it is not on `PATH`).
    pub fn with_program(mut self, program: impl Into<OsString>) -> Spooler {
        self.program = program.into();
        self
    }

    async fn deliver(&self, job: &[u8], t: Timeouts) -> Result<Delivery, PrintError> {
        let deadline = Instant::now() + t.connect + t.write;
        let mut command = Command::new(&self.program);
        if let Some(queue) = &self.queue {
            command.arg("-d").arg(queue);
        }
        command
            .args(["-o", "raw"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => PrintError::SpoolerMissing,
            _ => PrintError::Io {
                printer: self.printer.clone(),
                source: e,
            },
        })?;
        let stdin = child.stdin.take();
        let feed = async move {
            if let Some(mut stdin) = stdin {
                // An `lp` that exits early closes the pipe; its exit status says why.
                if let Err(e) = stdin.write_all(job).await {
                    tracing::debug!(error = %e, "lp closed its input early");
                }
            }
        };
        let run = async { tokio::join!(feed, child.wait_with_output()).1 };
        let output = match timeout_at(deadline, run).await {
            Ok(Ok(output)) => output,
            Ok(Err(e)) => {
                return Err(PrintError::Io {
                    printer: self.printer.clone(),
                    source: e,
                })
            }
            // Dropping the future drops the child, which kills it.
            Err(_) => {
                return Err(PrintError::TimedOut {
                    printer: self.printer.clone(),
                })
            }
        };
        if output.status.success() {
            return Ok(Delivery::default());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let mut message: String = stderr
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("")
            .chars()
            .filter(|c| !c.is_control())
            .take(MESSAGE_CHARS)
            .collect();
        if message.is_empty() {
            message = format!("lp exited with {}", output.status);
        }
        Err(PrintError::SpoolerRefused {
            printer: self.printer.clone(),
            message,
        })
    }
}

impl Transport for Spooler {
    fn send<'a>(
        &'a self,
        job: &'a [u8],
        timeouts: Timeouts,
    ) -> BoxFuture<'a, Result<Delivery, PrintError>> {
        Box::pin(self.deliver(job, timeouts))
    }
}
