//! Logging for every PayDesk binary (app, CLI, relay, sandbox): `tracing` to stderr
//! and/or to daily files, set up in one place.
//!
//! Files go to a directory the binary chooses (the till's default, [`default_log_dir`]: a
//! `logs` folder in the OS's local data folder, under Caches on macOS; `PAYDESK_LOG_DIR`
//! overrides it), one file a day, the last seven kept; the relay's only with `--log-dir`,
//! the sandbox's never (stderr only). The filter comes
//! from the binary's own variable when it has one (`PAYDESK_RELAY_LOG`), then
//! `PAYDESK_LOG`, then `RUST_LOG`, then `info`. Secrets never reach a log: they are
//! [`crate::Secret`]s, which print redacted.

use std::path::{Path, PathBuf};

pub use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::layer::{Layer, SubscriberExt};
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

/// The till's default log directory (app and CLI): `PAYDESK_LOG_DIR`, else the OS one.
pub fn default_log_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PAYDESK_LOG_DIR") {
        return Some(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("com", "paydesk", "PayDesk").map(|d| {
        // Linux and Windows have no log folder of their own: the local data folder. On
        // macOS, Caches (docs/platforms.md: ~/Library/Logs would be the usual place).
        if cfg!(target_os = "macos") {
            d.cache_dir().join("logs")
        } else {
            d.data_local_dir().join("logs")
        }
    })
}

/// What one binary logs, and where. Build it, then [`Logs::init`] once at start-up.
#[derive(Clone, Debug)]
pub struct Logs {
    component: String,
    dir: Option<PathBuf>,
    stderr: bool,
    json_stderr: bool,
    json_files: bool,
    filter_env: Option<&'static str>,
}

impl Logs {
    /// Logs to stderr only, as plain text; files are named `<component>.YYYY-MM-DD.log`.
    pub fn new(component: &str) -> Logs {
        Logs {
            component: component.to_owned(),
            dir: None,
            stderr: true,
            json_stderr: false,
            json_files: false,
            filter_env: None,
        }
    }

    /// Also (or, with [`Logs::files_only`], only) to daily files in `dir`.
    pub fn dir(mut self, dir: Option<&Path>) -> Logs {
        self.dir = dir.map(Path::to_owned);
        self
    }

    /// No copy on stderr: for a command-line tool whose output belongs to its user.
    pub fn files_only(mut self) -> Logs {
        self.stderr = false;
        self
    }

    /// JSON lines on stderr (for a service whose journal collects them).
    pub fn json_stderr(mut self, on: bool) -> Logs {
        self.json_stderr = on;
        self
    }

    /// JSON lines in the files.
    pub fn json_files(mut self, on: bool) -> Logs {
        self.json_files = on;
        self
    }

    /// A variable read before `PAYDESK_LOG` (e.g. `PAYDESK_RELAY_LOG`).
    pub fn filter_env(mut self, name: &'static str) -> Logs {
        self.filter_env = Some(name);
        self
    }

    fn filter(&self) -> EnvFilter {
        self.filter_env
            .and_then(|v| EnvFilter::try_from_env(v).ok())
            .or_else(|| EnvFilter::try_from_env("PAYDESK_LOG").ok())
            .or_else(|| EnvFilter::try_from_default_env().ok())
            .unwrap_or_else(|| EnvFilter::new("info"))
    }

    /// Installs the global logger. Keep the returned guard alive for the life of the
    /// process: dropping it flushes the files.
    pub fn init(self) -> Result<Option<WorkerGuard>, LoggingError> {
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let stderr = self.stderr.then(|| {
            let layer = fmt::layer()
                .with_writer(std::io::stderr)
                .with_target(false)
                .with_ansi(ansi && !self.json_stderr);
            if self.json_stderr {
                layer.json().boxed()
            } else {
                layer.boxed()
            }
        });
        let (files, guard) = match &self.dir {
            None => (None, None),
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|source| LoggingError::Dir {
                    path: dir.to_owned(),
                    source,
                })?;
                let appender = RollingFileAppender::builder()
                    .rotation(Rotation::DAILY)
                    .filename_prefix(&self.component)
                    .filename_suffix("log")
                    .max_log_files(KEEP_FILES)
                    .build(dir)
                    .map_err(|source| LoggingError::File {
                        path: dir.to_owned(),
                        source,
                    })?;
                let (writer, guard) = tracing_appender::non_blocking(appender);
                let layer = fmt::layer().with_writer(writer).with_ansi(false);
                let layer = if self.json_files {
                    layer.json().boxed()
                } else {
                    layer.boxed()
                };
                (Some(layer), Some(guard))
            }
        };
        tracing_subscriber::registry()
            .with(self.filter())
            .with(stderr)
            .with(files)
            .try_init()
            .map_err(|_| LoggingError::AlreadyInstalled)?;
        Ok(guard)
    }
}
