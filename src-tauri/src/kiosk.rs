//! Kiosk mode in the shell: full screen, one instance, and no closing while a payment is
//! pending. The setting and the start-at-login entry live in the core
//! (`paydesk_core::kiosk`); what needs a window lives here.
//!
//! One instance: the first PayDesk of a data folder holds an exclusive lock on
//! `paydesk.lock` there for as long as it runs, and listens on a loopback port written
//! beside it; a second one, finding the lock taken, asks the first (through that port) to
//! come to the front and exits. No session bus is needed, so it works the same on a till
//! without a desktop session bus and on Windows and macOS.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tauri::{AppHandle, Manager, Runtime};

/// What the second instance says to the first.
const FOCUS: &[u8] = b"focus\n";
/// How long a second instance waits for the first to answer.
const KNOCK_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    #[error("cannot use {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The lock this instance holds; dropping it (at exit) lets the next PayDesk start.
#[derive(Debug)]
pub struct Instance {
    _lock: File,
    listener: TcpListener,
}

/// Whether this is the only PayDesk of `data_dir`.
#[derive(Debug)]
pub enum Claim {
    /// It is: keep the instance alive while the app runs.
    First(Instance),
    /// Another one runs and was asked to come to the front.
    Second,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> InstanceError + '_ {
    move |source| InstanceError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Takes the data folder's instance lock, or knocks on the instance that holds it.
pub fn claim(data_dir: &Path) -> Result<Claim, InstanceError> {
    std::fs::create_dir_all(data_dir).map_err(io(data_dir))?;
    let lock_path = data_dir.join("paydesk.lock");
    let port_path = data_dir.join("paydesk.port");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io(&lock_path))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            knock(&port_path);
            return Ok(Claim::Second);
        }
        Err(TryLockError::Error(e)) => return Err(io(&lock_path)(e)),
    }
    let listener =
        TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).map_err(io(&port_path))?;
    let port = listener.local_addr().map_err(io(&port_path))?.port();
    std::fs::write(&port_path, port.to_string()).map_err(io(&port_path))?;
    Ok(Claim::First(Instance {
        _lock: lock,
        listener,
    }))
}

/// Asks the running instance to show itself; best effort (it may be shutting down).
fn knock(port_path: &Path) {
    let Some(port) = std::fs::read_to_string(port_path)
        .ok()
        .and_then(|p| p.trim().parse::<u16>().ok())
    else {
        return;
    };
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    if let Ok(mut stream) = TcpStream::connect_timeout(&addr, KNOCK_TIMEOUT) {
        let _ = stream.set_write_timeout(Some(KNOCK_TIMEOUT));
        let _ = stream.write_all(FOCUS);
    }
}

impl Instance {
    /// Brings the till's window to the front whenever another PayDesk knocks. The thread
    /// blocks in `accept` for the life of the process (the app's last window closing ends
    /// the process, and with it the thread).
    pub fn serve<R: Runtime>(self, app: AppHandle<R>) {
        let Instance { _lock, listener } = self;
        let spawned = std::thread::Builder::new()
            .name("paydesk-instance".into())
            .spawn(move || {
                let _lock = _lock;
                for stream in listener.incoming() {
                    let Ok(mut stream) = stream else { continue };
                    let _ = stream.set_read_timeout(Some(KNOCK_TIMEOUT));
                    let mut buf = [0u8; 16];
                    let n = stream.read(&mut buf).unwrap_or(0);
                    if &buf[..n] == FOCUS {
                        tracing::info!("another PayDesk was started: showing this one");
                        if let Some(w) = app.get_webview_window(crate::MAIN_WINDOW) {
                            let _ = w.unminimize();
                            let _ = w.show();
                            let _ = w.set_focus();
                        }
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot listen for a second PayDesk");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_claim_on_the_same_folder_knocks_and_the_first_hears_it() {
        let dir = tempfile::tempdir().unwrap();
        let Claim::First(first) = claim(dir.path()).unwrap() else {
            panic!("the first claim must win");
        };
        assert!(matches!(claim(dir.path()).unwrap(), Claim::Second));
        // The knock arrived at the first instance's port.
        first.listener.set_nonblocking(false).unwrap();
        let (mut stream, _) = first.listener.accept().unwrap();
        let mut buf = Vec::new();
        stream.read_to_end(&mut buf).unwrap();
        assert_eq!(buf, FOCUS);
        drop(first);
        // Released at exit: the next PayDesk is the first again.
        assert!(matches!(claim(dir.path()).unwrap(), Claim::First(_)));
    }
}
