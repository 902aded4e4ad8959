//! `paydesk-relay`: the binary a merchant deploys. `serve` runs the relay from a TOML config
//! (with `PAYDESK_RELAY_*` overrides); `terminal add|list|rotate|remove` manages terminal
//! keys.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _};
use clap::{Args, Parser, Subcommand};
use paydesk_protocol::wire::Scope;
use paydesk_relay::config::{LoadedConfig, ProcessEnv};
use paydesk_relay::TerminalStore;

#[derive(Parser)]
#[command(
    name = "paydesk-relay",
    version,
    about = "Signed Crypto.com Pay webhooks in, authenticated WebSocket pushes out"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the relay.
    Serve {
        /// TOML config file (see docs/relay.md); PAYDESK_RELAY_* variables override it.
        #[arg(long, env = "PAYDESK_RELAY_CONFIG")]
        config: Option<PathBuf>,
        /// Also write daily-rotated logs into this directory.
        #[arg(long)]
        log_dir: Option<PathBuf>,
        /// Log as JSON lines.
        #[arg(long)]
        json_logs: bool,
    },
    /// Manages terminal keys (only their hashes are stored).
    Terminal {
        #[command(subcommand)]
        action: TerminalAction,
    },
}

#[derive(Subcommand)]
enum TerminalAction {
    /// Creates a terminal and prints its key once.
    Add {
        #[arg(long)]
        merchant: String,
        #[arg(long)]
        name: String,
        /// `till`: the events of the payments it creates; `merchant`: every event of the
        /// merchant (a back office or a monitor).
        #[arg(long, default_value = "till", value_parser = parse_scope)]
        scope: Scope,
        #[command(flatten)]
        file: StoreFile,
    },
    /// Lists terminals (never keys): merchant, name, id, scope, created, rotated.
    List {
        #[command(flatten)]
        file: StoreFile,
    },
    /// Gives a terminal a new key (printed once) and keeps its id; after `kill -HUP` the
    /// old key gets no tickets, its unused tickets are refused and its sessions close.
    Rotate {
        #[arg(long)]
        merchant: String,
        #[arg(long)]
        name: String,
        #[command(flatten)]
        file: StoreFile,
    },
    /// Removes a terminal; after `kill -HUP` its key gets no tickets and its sessions close.
    Remove {
        #[arg(long)]
        merchant: String,
        #[arg(long)]
        name: String,
        #[command(flatten)]
        file: StoreFile,
    },
}

/// Where the terminals file is, for every `terminal` subcommand.
#[derive(Args)]
struct StoreFile {
    /// The terminals file (default: the config's `terminals_file`).
    #[arg(long)]
    store: Option<PathBuf>,
    #[arg(long, env = "PAYDESK_RELAY_CONFIG")]
    config: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            config,
            log_dir,
            json_logs,
        } => {
            let _guard = init_logs(log_dir.as_deref(), json_logs)?;
            let loaded = LoadedConfig::load(config.as_deref(), &ProcessEnv)
                .context("loading the relay configuration")?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the tokio runtime")?;
            rt.block_on(serve(loaded))
        }
        Command::Terminal { action } => terminal(action),
    }
}

async fn serve(loaded: LoadedConfig) -> anyhow::Result<()> {
    // One descriptor per session: take the hard limit, and say so when it is short.
    let wanted = loaded.relay.max_connections + loaded.relay.max_http_connections + 64;
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) if (n as usize) < wanted => tracing::warn!(
            open_files = n,
            wanted,
            "the open-file limit is below max_connections + max_http_connections; raise LimitNOFILE"
        ),
        Ok(n) => tracing::info!(open_files = n, "open-file limit"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
    }
    let socket = match loaded.listen {
        std::net::SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
        std::net::SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
    }
    .context("creating the listening socket")?;
    socket.set_reuseaddr(true).context("SO_REUSEADDR")?;
    socket
        .bind(loaded.listen)
        .with_context(|| format!("binding {}", loaded.listen))?;
    // A deep backlog: after a restart every till reconnects at once.
    let listener = socket.listen(4096).context("listening")?;
    paydesk_relay::run(listener, loaded.relay, shutdown_signal())
        .await
        .context("relay failed")
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

fn init_logs(
    log_dir: Option<&std::path::Path>,
    json: bool,
) -> anyhow::Result<Option<paydesk_protocol::logging::WorkerGuard>> {
    paydesk_protocol::logging::Logs::new("paydesk-relay")
        .dir(log_dir)
        .filter_env("PAYDESK_RELAY_LOG")
        .json_stderr(json)
        .json_files(true)
        .init()
        .context("installing the log subscriber")
}

fn store_path(file: StoreFile) -> anyhow::Result<PathBuf> {
    let StoreFile { store, config } = file;
    if let Some(s) = store {
        return Ok(s);
    }
    if let Some(s) = std::env::var_os("PAYDESK_RELAY_TERMINALS_FILE") {
        return Ok(PathBuf::from(s));
    }
    if let Some(c) = config {
        let text =
            std::fs::read_to_string(&c).with_context(|| format!("reading {}", c.display()))?;
        let file: paydesk_relay::config::FileConfig =
            toml::from_str(&text).with_context(|| format!("parsing {}", c.display()))?;
        if let Some(p) = file.terminals_file {
            return Ok(p);
        }
    }
    bail!("no terminals file: pass --store FILE (or --config with terminals_file)")
}

fn parse_scope(s: &str) -> Result<Scope, String> {
    s.parse()
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn terminal(action: TerminalAction) -> anyhow::Result<()> {
    match action {
        TerminalAction::Add {
            merchant,
            name,
            scope,
            file,
        } => {
            let path = store_path(file)?;
            let mut s = TerminalStore::load_or_empty(&path)?;
            let issued = s.add_with(&merchant, &name, scope, now_unix())?;
            s.save(&path)?;
            eprintln!(
                "terminal '{name}' of merchant '{merchant}' (id {}, scope {}) added to {}.\n\
                 Its key follows; it is shown only this once. `kill -HUP` the relay to load it.",
                issued.id,
                scope.as_str(),
                path.display()
            );
            // The one place a key is ever printed: stdout, so it can be piped to the till.
            println!("{}", issued.key.expose());
            Ok(())
        }
        TerminalAction::List { file } => {
            let path = store_path(file)?;
            let s = TerminalStore::load_or_empty(&path)?;
            for t in &s.terminals {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    t.merchant,
                    t.name,
                    t.id,
                    t.scope.as_str(),
                    t.created_unix,
                    t.rotated_unix
                );
            }
            Ok(())
        }
        TerminalAction::Rotate {
            merchant,
            name,
            file,
        } => {
            let path = store_path(file)?;
            let mut s = TerminalStore::load_or_empty(&path)?;
            let issued = s.rotate(&merchant, &name, now_unix())?;
            s.save(&path)?;
            eprintln!(
                "terminal '{name}' of merchant '{merchant}' (id {}) has a new key in {}.\n\
                 It follows; it is shown only this once. Give it to the till, then `kill -HUP` \
                 the relay: the old key stops working and its sessions are closed.",
                issued.id,
                path.display()
            );
            println!("{}", issued.key.expose());
            Ok(())
        }
        TerminalAction::Remove {
            merchant,
            name,
            file,
        } => {
            let path = store_path(file)?;
            let mut s = TerminalStore::load_or_empty(&path)?;
            s.remove(&merchant, &name)?;
            s.save(&path)?;
            eprintln!(
                "terminal '{name}' of merchant '{merchant}' removed; `kill -HUP` the relay to cut it off."
            );
            Ok(())
        }
    }
}
