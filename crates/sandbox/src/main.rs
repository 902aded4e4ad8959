//! `paydesk-sandbox`: the Crypto.com Pay simulator as a process.
//!
//! Prints the base URL it listens on as the first line of stdout (logs go to stderr), so a
//! script or a test can start it on port 0 and read where it went.

use std::io::Write as _;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use paydesk_protocol::Secret;
use paydesk_sandbox::{base_url_for, guess_lan_ip, SandboxConfig};

#[derive(Parser)]
#[command(
    name = "paydesk-sandbox",
    version,
    about = "A faithful Crypto.com Pay simulator"
)]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "PAYDESK_SANDBOX_LISTEN", default_value = "127.0.0.1:0")]
    listen: String,
    /// The secret key clients must present.
    #[arg(
        long,
        env = "PAYDESK_SANDBOX_SECRET_KEY",
        default_value = "sk_test_sandbox",
        hide_env_values = true
    )]
    secret_key: String,
    /// Where to POST webhooks (repeatable; comma-separated in the environment).
    #[arg(
        long = "webhook-url",
        env = "PAYDESK_SANDBOX_WEBHOOK_URL",
        value_delimiter = ','
    )]
    webhook_urls: Vec<String>,
    /// Signs the `Pay-Signature` header.
    #[arg(
        long,
        env = "PAYDESK_SANDBOX_WEBHOOK_SECRET",
        default_value = "whsec_sandbox",
        hide_env_values = true
    )]
    webhook_secret: String,
    /// How long a payment stays payable, in seconds.
    #[arg(long, env = "PAYDESK_SANDBOX_TIME_WINDOW", default_value_t = 600)]
    time_window: u64,
    /// Base of `payment_url`, e.g. http://192.168.1.20:8080 so a phone on the LAN can pay;
    /// `auto` uses this machine's LAN address and the listening port (listen on 0.0.0.0).
    #[arg(long, env = "PAYDESK_SANDBOX_PUBLIC_URL")]
    public_url: Option<String>,
    /// Legacy expiry form: an expired payment also says `status: "expired"` (Crypto.com
    /// keeps `pending` and sets `expired: true`).
    #[arg(long, env = "PAYDESK_SANDBOX_EXPIRED_STATUS")]
    expired_status: bool,
    /// How long a refund of an App payment stays pending, in milliseconds (0: transferred
    /// before the refund request is answered).
    #[arg(
        long,
        env = "PAYDESK_SANDBOX_APP_REFUND_DELAY_MS",
        default_value_t = 1000
    )]
    app_refund_delay_ms: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    paydesk_protocol::logging::Logs::new("paydesk-sandbox")
        .init()
        .context("installing the log subscriber")?;
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener
        .local_addr()
        .context("cannot read the listening address")?;
    let public_base_url = match args.public_url.as_deref() {
        Some("auto") => {
            let ip = guess_lan_ip().context("no LAN address found for --public-url auto")?;
            Some(base_url_for(std::net::SocketAddr::new(ip, addr.port())))
        }
        other => other.map(str::to_owned),
    };
    let config = SandboxConfig {
        secret_key: Secret::new(args.secret_key),
        webhook_urls: args.webhook_urls,
        webhook_secret: Secret::new(args.webhook_secret),
        time_window: Duration::from_secs(args.time_window),
        public_base_url,
        expired_status: args.expired_status,
        app_refund_delay: Duration::from_millis(args.app_refund_delay_ms),
    };
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", base_url_for(addr)).context("cannot write to stdout")?;
        out.flush().context("cannot write to stdout")?;
    }
    tracing::info!(
        %addr,
        checkout = config.public_base_url.as_deref().unwrap_or("(listening address)"),
        "sandbox listening"
    );
    paydesk_sandbox::run(listener, config, shutdown_signal())
        .await
        .context("the sandbox failed")
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down");
}
