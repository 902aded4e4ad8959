//! Device files and serial ports: `/dev/usb/lp0`, `serial:///dev/ttyUSB0?baud=19200`.
//!
//! A USB printer-class device or a tty is opened non-blocking and written on a blocking
//! thread that waits with `poll` no longer than the deadline, so a printer that stops
//! taking bytes ends the write at its deadline (tokio's `AsyncFd` would need `unsafe`). A serial port is first set raw, 8N1, at its speed, with the flow
//! control asked for (termios through `rustix`: no libudev, no C library beyond libc). A
//! regular file (a path someone points at to see the bytes) is simply appended to.
//!
//! The kernel's own words map to the cashier's: `ENOSPC` from the USB printer driver is
//! paper out, `EIO` a printer error, `EBUSY` another program holding the device.

use std::io;
use std::path::PathBuf;

use tokio::io::AsyncWriteExt as _;
use tokio::time::{timeout_at, Instant};

use super::{BoxFuture, Delivery, Timeouts, Transport};
use crate::error::PrintError;
use crate::target::FlowControl;

#[derive(Debug)]
pub(crate) struct Device {
    path: PathBuf,
    serial: Option<(u32, FlowControl)>,
    printer: String,
}

impl Device {
    pub(crate) fn file(path: PathBuf, printer: String) -> Device {
        Device {
            path,
            serial: None,
            printer,
        }
    }

    pub(crate) fn serial(path: PathBuf, baud: u32, flow: FlowControl, printer: String) -> Device {
        Device {
            path,
            serial: Some((baud, flow)),
            printer,
        }
    }

    fn hint(&self) -> &'static str {
        if self.serial.is_some() {
            "give this user access to serial ports (on Linux, the 'dialout' group)"
        } else {
            "give this user access to the printer device (on Linux, the 'lp' group)"
        }
    }

    /// What an `open` or `write` error means for the cashier.
    fn error(&self, e: io::Error, mid_receipt: bool) -> PrintError {
        let printer = self.printer.clone();
        tracing::debug!(printer, error = %e, "printer device error");
        if let Some(known) = errno_error(&e, &printer, mid_receipt) {
            return known;
        }
        match e.kind() {
            io::ErrorKind::NotFound => PrintError::NotConnected { printer },
            io::ErrorKind::PermissionDenied => PrintError::PermissionDenied {
                printer,
                hint: self.hint(),
            },
            io::ErrorKind::BrokenPipe => PrintError::ConnectionLost { printer },
            _ => PrintError::Io { printer, source: e },
        }
    }

    async fn deliver(&self, job: &[u8], t: Timeouts) -> Result<Delivery, PrintError> {
        let deadline = Instant::now() + t.connect + t.write;
        let file = open(&self.path).map_err(|e| self.error(e, false))?;
        let metadata = file.metadata().map_err(|e| self.error(e, false))?;
        if metadata.is_file() {
            if self.serial.is_some() {
                return Err(PrintError::NotSerial {
                    printer: self.printer.clone(),
                });
            }
            let mut file = tokio::fs::File::from_std(file);
            let write = async {
                file.write_all(job).await?;
                file.flush().await
            };
            return match timeout_at(deadline, write).await {
                Ok(Ok(())) => Ok(Delivery::default()),
                Ok(Err(e)) => Err(self.error(e, true)),
                Err(_) => Err(self.timed_out()),
            };
        }
        self.write_device(file, job, deadline).await
    }

    fn timed_out(&self) -> PrintError {
        PrintError::TimedOut {
            printer: self.printer.clone(),
        }
    }
}

#[cfg(unix)]
fn open(path: &std::path::Path) -> io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let flags = rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY;
    std::fs::OpenOptions::new()
        .append(true)
        .custom_flags(i32::try_from(flags.bits()).unwrap_or(0))
        .open(path)
}

#[cfg(not(unix))]
fn open(path: &std::path::Path) -> io::Result<std::fs::File> {
    std::fs::OpenOptions::new().append(true).open(path)
}

#[cfg(unix)]
fn errno_error(e: &io::Error, printer: &str, mid_receipt: bool) -> Option<PrintError> {
    use rustix::io::Errno;
    let printer = printer.to_owned();
    let code = e.raw_os_error()?;
    Some(match code {
        c if c == Errno::NOSPC.raw_os_error() => PrintError::OutOfPaper {
            printer,
            mid_receipt,
        },
        c if c == Errno::IO.raw_os_error() => PrintError::PrinterFault { printer },
        c if c == Errno::BUSY.raw_os_error() => PrintError::DeviceBusy { printer },
        c if c == Errno::NODEV.raw_os_error() || c == Errno::NXIO.raw_os_error() => {
            PrintError::NotConnected { printer }
        }
        _ => return None,
    })
}

#[cfg(not(unix))]
fn errno_error(_: &io::Error, _: &str, _: bool) -> Option<PrintError> {
    None
}

#[cfg(unix)]
impl Device {
    async fn write_device(
        &self,
        file: std::fs::File,
        job: &[u8],
        deadline: Instant,
    ) -> Result<Delivery, PrintError> {
        let total = job.len();
        let job = job.to_vec();
        let serial = self.serial;
        let until = deadline.into_std();
        let work = tokio::task::spawn_blocking(move || write_blocking(file, &job, serial, until));
        match timeout_at(deadline, work).await {
            Ok(Ok(Ok(()))) => Ok(Delivery::default()),
            Ok(Ok(Err(Failure::NotSerial))) => Err(PrintError::NotSerial {
                printer: self.printer.clone(),
            }),
            Ok(Ok(Err(Failure::Io { error, sent }))) => Err(self.error(error, sent > 0)),
            Ok(Ok(Err(Failure::Stalled { sent }))) => Err(self.stalled(sent, total)),
            Ok(Err(join)) => Err(PrintError::Io {
                printer: self.printer.clone(),
                source: io::Error::other(join),
            }),
            // Written, but the serial port's output queue did not drain in time.
            Err(_) => Err(self.stalled(total, total)),
        }
    }

    fn stalled(&self, sent: usize, total: usize) -> PrintError {
        PrintError::Stalled {
            printer: self.printer.clone(),
            sent,
            total,
        }
    }
}

#[cfg(unix)]
enum Failure {
    NotSerial,
    Io { error: io::Error, sent: usize },
    Stalled { sent: usize },
}

/// Runs on a blocking thread: the device is non-blocking and waited on with `poll` up to
/// `deadline`, so the thread never writes past it. A serial port is then drained (the
/// caller stops waiting at the deadline; the thread ends when the drain or the close does).
#[cfg(unix)]
fn write_blocking(
    file: std::fs::File,
    job: &[u8],
    serial: Option<(u32, FlowControl)>,
    deadline: std::time::Instant,
) -> Result<(), Failure> {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    use std::io::Write as _;

    if let Some((baud, flow)) = serial {
        configure_serial(&file, baud, flow).map_err(|error| {
            if error.raw_os_error() == Some(rustix::io::Errno::NOTTY.raw_os_error()) {
                Failure::NotSerial
            } else {
                Failure::Io { error, sent: 0 }
            }
        })?;
    }
    let mut sent = 0;
    while sent < job.len() {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(Failure::Stalled { sent });
        }
        let timeout = Timespec::try_from(left).unwrap_or(Timespec {
            tv_sec: 1,
            tv_nsec: 0,
        });
        let mut fds = [PollFd::new(&file, PollFlags::OUT)];
        match poll(&mut fds, Some(&timeout)) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => {
                return Err(Failure::Io {
                    error: e.into(),
                    sent,
                })
            }
        }
        // Ready, or in error: the write says which.
        match (&file).write(&job[sent..]) {
            Ok(0) => {
                let error = io::ErrorKind::WriteZero.into();
                return Err(Failure::Io { error, sent });
            }
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(Failure::Io { error, sent }),
        }
    }
    if serial.is_some() {
        rustix::termios::tcdrain(&file).map_err(|e| Failure::Io {
            error: e.into(),
            sent,
        })?;
    }
    Ok(())
}

/// Raw 8N1 at `baud`, receiver on, modem lines ignored, and the asked-for flow control.
#[cfg(unix)]
fn configure_serial(file: &std::fs::File, baud: u32, flow: FlowControl) -> io::Result<()> {
    use rustix::termios::{self, ControlModes, InputModes, OptionalActions};
    let mut tio = termios::tcgetattr(file)?;
    tio.make_raw();
    tio.control_modes
        .remove(ControlModes::CSIZE | ControlModes::PARENB | ControlModes::CSTOPB);
    tio.control_modes
        .insert(ControlModes::CS8 | ControlModes::CREAD | ControlModes::CLOCAL);
    tio.control_modes.remove(ControlModes::CRTSCTS);
    tio.input_modes
        .remove(InputModes::IXON | InputModes::IXOFF | InputModes::IXANY);
    match flow {
        FlowControl::None => {}
        FlowControl::Hardware => tio.control_modes.insert(ControlModes::CRTSCTS),
        FlowControl::Software => tio.input_modes.insert(InputModes::IXON | InputModes::IXOFF),
    }
    tio.set_speed(baud)?;
    termios::tcsetattr(file, OptionalActions::Now, &tio)?;
    Ok(())
}

#[cfg(not(unix))]
impl Device {
    async fn write_device(
        &self,
        file: std::fs::File,
        job: &[u8],
        deadline: Instant,
    ) -> Result<Delivery, PrintError> {
        if self.serial.is_some() {
            return Err(PrintError::Unsupported {
                printer: self.printer.clone(),
                what:
                    "printing to a serial port (use the printer's Windows queue: winspool://Name)",
            });
        }
        let mut file = tokio::fs::File::from_std(file);
        let write = async {
            file.write_all(job).await?;
            file.flush().await
        };
        match timeout_at(deadline, write).await {
            Ok(Ok(())) => Ok(Delivery::default()),
            Ok(Err(e)) => Err(self.error(e, true)),
            Err(_) => Err(self.timed_out()),
        }
    }
}

impl Transport for Device {
    fn send<'a>(
        &'a self,
        job: &'a [u8],
        timeouts: Timeouts,
    ) -> BoxFuture<'a, Result<Delivery, PrintError>> {
        Box::pin(self.deliver(job, timeouts))
    }
}
