//! Logging for every PayDesk binary: `tracing` to stderr and to rotating files.
//!
//! Files go to the OS log directory (`PAYDESK_LOG_DIR` overrides it), one file a day, the
//! last seven kept. The filter comes from `PAYDESK_LOG`, then `RUST_LOG`, then `info`.
//! Secrets never reach a log: they are [`crate::secrets::Secret`]s, which print redacted.

use std::path::{Path, PathBuf};

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter};

/// How many daily log files are kept.
pub const KEEP_FILES: usize = 7;

#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    #[error("cannot create the log directory {path}: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open a log file in {path}: {source}")]
    File {
        path: PathBuf,
        source: tracing_appender::rolling::InitError,
    },
    #[error("a logger is already installed")]
    AlreadyInstalled,
}

/// The default log directory for a component ("app", "cli", "relay").
pub fn default_log_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PAYDESK_LOG_DIR") {
        return Some(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("com", "paydesk", "PayDesk").map(|d| {
        // Linux and Windows have no log folder of their own; macOS has ~/Library/Logs.
        if cfg!(target_os = "macos") {
            d.cache_dir().join("logs")
        } else {
            d.data_local_dir().join("logs")
        }
    })
}

fn filter() -> EnvFilter {
    EnvFilter::try_from_env("PAYDESK_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Installs the global logger: stderr plus daily files `<component>.YYYY-MM-DD.log` in
/// `dir`. Keep the returned guard alive for the life of the process: dropping it flushes.
pub fn init(component: &str, dir: Option<&Path>) -> Result<Option<WorkerGuard>, LoggingError> {
    init_with(component, dir, true)
}

/// [`init`] without the copy on stderr: for a command-line tool whose stdout and stderr
/// belong to the person (or script) running it. Logs go to the files only.
pub fn init_files_only(
    component: &str,
    dir: Option<&Path>,
) -> Result<Option<WorkerGuard>, LoggingError> {
    init_with(component, dir, false)
}

fn init_with(
    component: &str,
    dir: Option<&Path>,
    to_stderr: bool,
) -> Result<Option<WorkerGuard>, LoggingError> {
    let stderr = to_stderr.then(|| fmt::layer().with_writer(std::io::stderr).with_target(false));
    let Some(dir) = dir else {
        tracing_subscriber::registry()
            .with(filter())
            .with(stderr)
            .try_init()
            .map_err(|_| LoggingError::AlreadyInstalled)?;
        return Ok(None);
    };
    std::fs::create_dir_all(dir).map_err(|source| LoggingError::Dir {
        path: dir.to_owned(),
        source,
    })?;
    let appender = RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix(component)
        .filename_suffix("log")
        .max_log_files(KEEP_FILES)
        .build(dir)
        .map_err(|source| LoggingError::File {
            path: dir.to_owned(),
            source,
        })?;
    let (writer, guard) = tracing_appender::non_blocking(appender);
    tracing_subscriber::registry()
        .with(filter())
        .with(stderr)
        .with(fmt::layer().with_writer(writer).with_ansi(false))
        .try_init()
        .map_err(|_| LoggingError::AlreadyInstalled)?;
    Ok(Some(guard))
}
