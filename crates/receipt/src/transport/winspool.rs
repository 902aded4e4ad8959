//! The Windows print spooler in raw mode: `OpenPrinterW`, `StartDocPrinterW` with the
//! "RAW" datatype, `WritePrinter`, and the matching ends.
//!
//! The printer's Windows driver (Epson's, Star's, or "Generic / Text Only") is bypassed:
//! the spooler hands our ESC/POS bytes to the port as they are. The calls block, so they
//! run on a blocking thread under the job's deadline; a spooler that hangs costs that
//! thread until it returns, never the caller.
//!
//! UNTESTED: PayDesk's test machines run Linux. This module is only type-checked there
//! (`RUSTFLAGS="--cfg paydesk_check_windows" cargo check -p paydesk-receipt`); it has
//! never run against a real spooler. See docs/printing.md.
#![allow(unsafe_code)]

use std::io;
use std::ptr;

use tokio::time::{timeout_at, Instant};
use windows_sys::Win32::Graphics::Printing::{
    ClosePrinter, EndDocPrinter, EndPagePrinter, OpenPrinterW, StartDocPrinterW, StartPagePrinter,
    WritePrinter, DOC_INFO_1W, PRINTER_HANDLE,
};

use super::{BoxFuture, Delivery, Timeouts, Transport};
use crate::error::PrintError;

/// `ERROR_INVALID_PRINTER_NAME`.
const INVALID_PRINTER_NAME: i32 = 1801;

#[derive(Debug)]
pub(crate) struct WinSpool {
    name: Option<String>,
    printer: String,
}

impl WinSpool {
    pub(crate) fn new(name: Option<String>, printer: String) -> WinSpool {
        WinSpool { name, printer }
    }

    async fn deliver(&self, job: &[u8], t: Timeouts) -> Result<Delivery, PrintError> {
        let Some(name) = self.name.clone() else {
            return Err(PrintError::Unsupported {
                printer: self.printer.clone(),
                what: "the default queue (name the printer: winspool://EPSON%20TM-T20III)",
            });
        };
        let deadline = Instant::now() + t.connect + t.write;
        let bytes = job.to_vec();
        let work = tokio::task::spawn_blocking(move || write_raw(&name, &bytes));
        match timeout_at(deadline, work).await {
            Ok(Ok(Ok(()))) => Ok(Delivery::default()),
            Ok(Ok(Err(e))) if e.raw_os_error() == Some(INVALID_PRINTER_NAME) => {
                Err(PrintError::NotConnected {
                    printer: self.printer.clone(),
                })
            }
            Ok(Ok(Err(e))) => Err(PrintError::Io {
                printer: self.printer.clone(),
                source: e,
            }),
            Ok(Err(join)) => Err(PrintError::Io {
                printer: self.printer.clone(),
                source: io::Error::other(join),
            }),
            Err(_) => Err(PrintError::TimedOut {
                printer: self.printer.clone(),
            }),
        }
    }
}

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(std::iter::once(0)).collect()
}

/// An open printer handle, closed on drop.
struct Handle(PRINTER_HANDLE);

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle came from a successful OpenPrinterW and is closed once.
        unsafe {
            ClosePrinter(self.0);
        }
    }
}

fn check(ok: bool) -> io::Result<()> {
    if ok {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn write_raw(name: &str, job: &[u8]) -> io::Result<()> {
    let mut name = wide(name);
    let mut doc_name = wide("PayDesk receipt");
    let mut datatype = wide("RAW");
    let mut raw = PRINTER_HANDLE {
        Value: ptr::null_mut(),
    };
    // SAFETY: `name` is a NUL-terminated UTF-16 string that outlives the call; `raw` is a
    // valid out-pointer; no defaults are passed.
    check(unsafe { OpenPrinterW(name.as_mut_ptr(), &mut raw, ptr::null()) } != 0)?;
    let handle = Handle(raw);
    let info = DOC_INFO_1W {
        pDocName: doc_name.as_mut_ptr(),
        pOutputFile: ptr::null_mut(),
        pDatatype: datatype.as_mut_ptr(),
    };
    // SAFETY: `info` points at NUL-terminated strings that live until the end of this
    // function; level 1 matches DOC_INFO_1W.
    check(unsafe { StartDocPrinterW(handle.0, 1, &info) } != 0)?;
    let result = (|| {
        // SAFETY: the handle is open with a document started.
        check(unsafe { StartPagePrinter(handle.0) } != 0)?;
        let mut sent = 0usize;
        while sent < job.len() {
            let chunk = &job[sent..];
            let len = u32::try_from(chunk.len()).unwrap_or(u32::MAX);
            let mut written = 0u32;
            // SAFETY: `chunk` is valid for `len` bytes; `written` is a valid out-pointer.
            check(
                unsafe { WritePrinter(handle.0, chunk.as_ptr().cast(), len, &mut written) } != 0,
            )?;
            if written == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            sent += written as usize;
        }
        // SAFETY: a page was started on this open handle.
        check(unsafe { EndPagePrinter(handle.0) } != 0)
    })();
    // SAFETY: a document was started on this open handle; ended once, whatever happened.
    let ended = check(unsafe { EndDocPrinter(handle.0) } != 0);
    result.and(ended)
}

impl Transport for WinSpool {
    fn send<'a>(
        &'a self,
        job: &'a [u8],
        timeouts: Timeouts,
    ) -> BoxFuture<'a, Result<Delivery, PrintError>> {
        Box::pin(self.deliver(job, timeouts))
    }
}
