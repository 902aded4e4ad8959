//! Getting a job's bytes to a printer: one [`Transport`] per kind of [`Target`].
//!
//! `Printer::print` (printer.rs) encodes the receipt and hands the bytes to the transport
//! its address chose. Each transport connects or opens, writes and closes within
//! [`Timeouts`], and turns what went wrong into a [`PrintError`] a cashier can act on.
//! A job is self-contained (it starts with `ESC @`), so a transport opens the printer per
//! job and holds nothing between jobs: a printer switched off between two sales costs
//! nothing but the one error.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::error::PrintError;
use crate::escpos::PaperSensor;
use crate::target::Target;

mod device;
mod spooler;
mod tcp;
#[cfg(any(windows, paydesk_check_windows))]
#[cfg_attr(not(windows), allow(dead_code))]
mod winspool;

pub use spooler::Spooler;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The deadlines of one job. The whole job never takes longer than [`Timeouts::total`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// To connect to a network printer or open a device or queue.
    pub connect: Duration,
    /// For a network printer to answer the paper status query; one that does not answer
    /// in time is taken to have no status channel (not an error).
    pub status: Duration,
    /// To write the whole job (and, where the printer answers status, to confirm it).
    pub write: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(3),
            status: Duration::from_millis(500),
            write: Duration::from_secs(10),
        }
    }
}

impl Timeouts {
    /// The most one job takes: connect, the status asked before, the write, and the status
    /// asked after it (which may start at the end of the write).
    pub fn total(&self) -> Duration {
        self.connect + self.status + self.write + self.status
    }
}

/// What the printer said about itself, when it says anything.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    /// The paper sensor after the job, on printers that answer `DLE EOT 4`.
    pub paper: Option<PaperSensor>,
}

/// A way to deliver a whole ESC/POS job to a printer.
pub trait Transport: Send + Sync + fmt::Debug {
    fn send<'a>(
        &'a self,
        job: &'a [u8],
        timeouts: Timeouts,
    ) -> BoxFuture<'a, Result<Delivery, PrintError>>;
}

/// The transport for `target` on this operating system.
pub fn for_target(target: &Target) -> Box<dyn Transport> {
    let printer = target.describe();
    match target {
        Target::Tcp { host, port } => Box::new(tcp::Tcp::new(host.clone(), *port, printer)),
        Target::Device { path } => Box::new(device::Device::file(path.clone(), printer)),
        Target::Serial { path, baud, flow } => {
            Box::new(device::Device::serial(path.clone(), *baud, *flow, printer))
        }
        Target::Queue { name } => queue(name.clone(), printer),
    }
}

#[cfg(not(windows))]
fn queue(name: Option<String>, _printer: String) -> Box<dyn Transport> {
    Box::new(Spooler::new(name))
}

#[cfg(windows)]
fn queue(name: Option<String>, printer: String) -> Box<dyn Transport> {
    Box::new(winspool::WinSpool::new(name, printer))
}
