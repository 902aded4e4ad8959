//! realtime-bench: what push buys a till, measured on the real stack over loopback.
//!
//! Runs the sandbox, a `paydesk-relay` process and the terminal's session (through fault
//! proxies that count bytes), and prints one markdown table for `docs/benchmarks.md`:
//!
//! - status latency from capture at the sandbox to the tracker's transition, p50/p99, via
//!   the relay push and via the polling fallback;
//! - HTTP requests and bytes for one payment left pending for its whole 10 minutes, with
//!   push, with the polling fallback, and with plain 2-second polling (time-compressed: every
//!   interval of every party is divided by `--scale`, which leaves counts unchanged);
//! - how long a blackholed (half-open) link takes to be noticed, and polling to begin, on
//!   the relay's default heartbeat and on a slow one (Engine.IO's 25 s + 20 s).
//!
//! Needs `paydesk-relay` built in the same profile:
//! `cargo build --release -p paydesk-relay -p paydesk-tests --bins`, then
//! `target/release/realtime-bench`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use paydesk_core::clock::LocalClock;
use paydesk_core::clock::ServerClock;
use paydesk_core::gateway::Gateway;
use paydesk_core::payment::{Payment, PaymentStatus};
use paydesk_core::realtime::{ConnectionState, RelayEndpoint, Session, SessionConfig};
use paydesk_core::tracker::{NoJournal, Subscription, Tracker, TrackerEvent};
use paydesk_tests::proxy::{FaultProxy, Traffic};
use paydesk_tests::system::{Recorder, Stack, StackOptions};
use tokio::time::Instant;

struct Args {
    /// Payments measured through the push path.
    push_payments: usize,
    /// Payments measured through the polling path.
    poll_payments: usize,
    /// Time compression for the 10-minute cost runs.
    scale: u32,
    /// Tills blackholed at once in the detection run.
    blackholed: usize,
}

impl Args {
    /// `--push-payments N --poll-payments N --scale K --blackholed N`, all optional.
    fn parse() -> Result<Args> {
        let mut a = Args {
            push_payments: 300,
            poll_payments: 60,
            scale: 20,
            blackholed: 6,
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let value = it.next().with_context(|| format!("{flag} needs a value"))?;
            let n: usize = value
                .parse()
                .with_context(|| format!("{flag}: not a number: {value}"))?;
            match flag.as_str() {
                "--push-payments" => a.push_payments = n.max(1),
                "--poll-payments" => a.poll_payments = n.max(1),
                "--scale" => a.scale = u32::try_from(n.max(1)).context("--scale too large")?,
                "--blackholed" => a.blackholed = n.max(1),
                other => bail!("unknown option {other}"),
            }
        }
        Ok(a)
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = Args::parse()?;
    paydesk_core::init_tls();
    let mut rows: Vec<String> = Vec::new();

    let (push_p50, push_p99) = push_latency(args.push_payments).await?;
    rows.push(format!(
        "| Push: capture → transition (n={}) | p50 {:.1} ms · p99 {:.1} ms | p99 < 25 ms |",
        args.push_payments, push_p50, push_p99
    ));
    let (poll_p50, poll_p99) = poll_latency(args.poll_payments).await?;
    rows.push(format!(
        "| Polling fallback: capture → transition (n={}) | p50 {:.0} ms · p99 {:.0} ms | — |",
        args.poll_payments, poll_p50, poll_p99
    ));

    let cost = ten_minute_costs(args.scale).await?;
    for c in &cost {
        rows.push(format!(
            "| 10-min payment, {}: HTTP requests / bytes | {} req · {} B HTTP + {} B WebSocket | {} |",
            c.mode, c.requests, c.http_bytes, c.ws_bytes, c.note
        ));
    }
    if let (Some(push), Some(naive)) = (
        cost.iter().find(|c| c.mode == "push"),
        cost.iter().find(|c| c.mode == "2 s polling"),
    ) {
        rows.push(format!(
            "| Requests, 2 s polling ÷ push | {:.0}× ({:.0}× counting reads only) | ≥ 50× |",
            naive.requests as f64 / push.requests.max(1) as f64,
            (naive.requests - 1) as f64 / (push.requests - 1).max(1) as f64,
        ));
    }

    let relay = paydesk_relay::RelayConfig::memory();
    let default_heartbeat = format!(
        "relay default heartbeat {} s + {} s",
        relay.heartbeat_interval.as_secs(),
        relay.heartbeat_timeout.as_secs()
    );
    for (interval, timeout, what) in [
        (
            relay.heartbeat_interval,
            relay.heartbeat_timeout,
            default_heartbeat.as_str(),
        ),
        (
            Duration::from_secs(25),
            Duration::from_secs(20),
            "slow relay heartbeat 25 s + 20 s: probed",
        ),
    ] {
        let (noticed, polling) = blackhole_detection(args.blackholed, interval, timeout).await?;
        rows.push(format!(
            "| Blackholed link noticed (n={}, {what}) | max {:.1} s · mean {:.1} s | ≤ 15 s |",
            noticed.len(),
            max(&noticed),
            mean(&noticed)
        ));
        rows.push(format!(
            "| Polling begun after the link was found dead ({what}) | max {:.1} ms | ≤ 1 s |",
            max(&polling) * 1000.0
        ));
    }

    println!("| Measure | Result | Target |");
    println!("|---|---|---|");
    for r in rows {
        println!("{r}");
    }
    Ok(())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NAN, f64::max)
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

struct Till {
    session: Session,
    sub: Subscription,
    gateway: Gateway,
}

fn till(stack: &Stack, cfg: SessionConfig, gateway: Gateway, clock: ServerClock) -> Till {
    let tracker = Tracker::with_clocks(Arc::new(NoJournal::default()), clock, LocalClock::system());
    let sub = tracker.subscribe();
    let _ = stack;
    let session = Session::start(cfg, tracker, gateway.clone());
    Till {
        session,
        sub,
        gateway,
    }
}

async fn wait_state(
    sub: &mut Subscription,
    want: ConnectionState,
    within: Duration,
) -> Result<Instant> {
    tokio::time::timeout(within, async {
        loop {
            match sub.recv().await {
                Some(TrackerEvent::Connection(c)) if c.state == want => return Ok(Instant::now()),
                Some(_) => {}
                None => bail!("tracker gone"),
            }
        }
    })
    .await
    .with_context(|| format!("never {want:?}"))?
}

async fn wait_paid(sub: &mut Subscription, id: &str) -> Result<Instant> {
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match sub.recv().await {
                Some(TrackerEvent::Transition(t))
                    if t.payment_id == id && t.to == PaymentStatus::Succeeded =>
                {
                    return Ok(Instant::now())
                }
                Some(TrackerEvent::Resnapshot { .. }) => bail!("subscriber lagged"),
                Some(_) => {}
                None => bail!("tracker gone"),
            }
        }
    })
    .await
    .context("payment never shown paid")?
}

/// Capture → transition through the relay, one payment at a time.
async fn push_latency(n: usize) -> Result<(f64, f64)> {
    let stack = Stack::start(StackOptions::default()).await?;
    let clock = ServerClock::new();
    let mut cfg = stack.session_config();
    // Straight to the relay: no proxy hop in the latency.
    cfg.relay = Some(RelayEndpoint::new(
        format!("http://{}", stack.relay.addr()),
        stack.terminal_key.clone(),
    ));
    cfg.live_check_every = Duration::from_secs(3600);
    let mut t = till(&stack, cfg, stack.gateway(clock.clone())?, clock);
    wait_state(&mut t.sub, ConnectionState::Live, Duration::from_secs(10)).await?;
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let p = stack.create(&t.gateway, 100 + i as i128).await?;
        t.session.track(p.clone()).await?;
        let start = Instant::now();
        let (paid, seen) = tokio::join!(stack.pay(&p.id), wait_paid(&mut t.sub, &p.id));
        paid?;
        samples.push(ms(seen? - start));
        t.session.tracker().untrack(&p.id);
    }
    if t.session.stats().api_reads > 0 {
        bail!("push run read the API; latencies would be polling's");
    }
    t.session.shutdown().await;
    stack.shutdown().await;
    samples.sort_by(f64::total_cmp);
    Ok((percentile(&samples, 50.0), percentile(&samples, 99.0)))
}

/// Capture → transition with no relay: the default 1.5 s ± 20 % polling.
async fn poll_latency(n: usize) -> Result<(f64, f64)> {
    let stack = Stack::start(StackOptions::default()).await?;
    let clock = ServerClock::new();
    let cfg = SessionConfig::default();
    let t = till(&stack, cfg, stack.gateway(clock.clone())?, clock);
    let rec = Recorder::from_subscription(t.sub);
    let lanes = 6usize;
    let mut handles = Vec::new();
    let stack = Arc::new(stack);
    let session = Arc::new(t.session);
    for lane in 0..lanes {
        let (stack, session, gateway, rec) = (
            stack.clone(),
            session.clone(),
            t.gateway.clone(),
            rec.clone(),
        );
        handles.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for i in (lane..n).step_by(lanes) {
                let p: Payment = stack.create(&gateway, 100 + i as i128).await?;
                session.track(p.clone()).await?;
                // Pay at a random phase of the poll cycle.
                let wait = rand::random_range(0..1500u64);
                tokio::time::sleep(Duration::from_millis(wait)).await;
                let start = Instant::now();
                stack.pay(&p.id).await?;
                let (seen, _) = rec
                    .wait_status(&p.id, PaymentStatus::Succeeded, Duration::from_secs(30))
                    .await?;
                out.push(ms(seen - start));
            }
            anyhow::Ok(out)
        }));
    }
    let mut samples = Vec::new();
    for h in handles {
        samples.extend(h.await??);
    }
    drop(rec);
    if let Ok(s) = Arc::try_unwrap(session) {
        s.shutdown().await;
    }
    if let Ok(s) = Arc::try_unwrap(stack) {
        s.shutdown().await;
    }
    samples.sort_by(f64::total_cmp);
    Ok((percentile(&samples, 50.0), percentile(&samples, 99.0)))
}

struct Cost {
    mode: &'static str,
    requests: u64,
    http_bytes: u64,
    ws_bytes: u64,
    note: String,
}

fn delta(a: Traffic, b: Traffic) -> u64 {
    (b.bytes_up + b.bytes_down) - (a.bytes_up + a.bytes_down)
}

/// One payment pending for its whole window (10 min ÷ `scale`), in three modes.
async fn ten_minute_costs(scale: u32) -> Result<Vec<Cost>> {
    let window = Duration::from_secs(600) / scale;
    let relay = paydesk_relay::RelayConfig::memory();
    let relay_defaults = StackOptions {
        heartbeat_interval: relay.heartbeat_interval / scale,
        heartbeat_timeout: relay.heartbeat_timeout / scale,
        time_window: window,
    };
    let d = SessionConfig::default();
    let scaled = |relay: Option<RelayEndpoint>| SessionConfig {
        relay,
        max_silence: d.max_silence / scale,
        fallback_after: d.fallback_after / scale,
        poll_interval: d.poll_interval / scale,
        live_check_every: d.live_check_every / scale,
        expiry_recheck: d.expiry_recheck / scale,
        backoff_base: d.backoff_base / scale,
        backoff_cap: d.backoff_cap / scale,
        ..SessionConfig::default()
    };
    let mut out = Vec::new();
    for mode in ["push", "polling fallback", "2 s polling"] {
        let stack = Stack::start(relay_defaults).await?;
        let api_proxy = FaultProxy::start(stack.sandbox_addr()?).await?;
        let clock = ServerClock::new();
        let gateway = stack.gateway_at(&api_proxy.base_url(), clock.clone())?;
        let relay = (mode == "push")
            .then(|| RelayEndpoint::new(stack.relay_proxy.base_url(), stack.terminal_key.clone()));
        let mut t = till(&stack, scaled(relay), gateway, clock);
        if mode == "push" {
            wait_state(&mut t.sub, ConnectionState::Live, Duration::from_secs(10)).await?;
        }
        let (api0, ws0, stats0) = (
            api_proxy.traffic(),
            stack.relay_proxy.traffic(),
            stack.stats().await?,
        );
        let tickets0 = t.session.stats().tickets;
        let p = stack.create(&t.gateway, 1234).await?;
        let started = Instant::now();
        if mode == "2 s polling" {
            // What a till without push does: read the whole payment every 2 s.
            let every = Duration::from_secs(2) / scale;
            loop {
                let p = t.gateway.retrieve_payment(&p.id).await?;
                if p.effective_status().is_terminal() {
                    break;
                }
                tokio::time::sleep(every).await;
            }
        } else {
            t.session.track(p.clone()).await?;
            tokio::time::timeout(window * 2, async {
                loop {
                    match t.sub.recv().await {
                        Some(TrackerEvent::Transition(tr))
                            if tr.payment_id == p.id && tr.to == PaymentStatus::Expired =>
                        {
                            return Ok(())
                        }
                        Some(_) => {}
                        None => bail!("tracker gone"),
                    }
                }
            })
            .await
            .context("payment never expired")??;
        }
        let took = started.elapsed();
        let stats1 = stack.stats().await?;
        let (api1, ws1) = (api_proxy.traffic(), stack.relay_proxy.traffic());
        let tickets = t.session.stats().tickets - tickets0;
        out.push(Cost {
            mode,
            // The sandbox counts `/api` requests only; tickets go to the relay.
            requests: stats1.requests - stats0.requests + tickets,
            http_bytes: delta(api0, api1),
            ws_bytes: delta(ws0, ws1),
            note: format!(
                "ran {:.1} s ({}× compressed){}",
                took.as_secs_f64(),
                scale,
                if tickets > 0 {
                    format!(", incl. {tickets} ticket")
                } else {
                    String::new()
                }
            ),
        });
        t.session.shutdown().await;
        api_proxy.shutdown().await;
        stack.shutdown().await;
    }
    Ok(out)
}

/// `n` tills on a relay with the given heartbeat, each link blackholed at a random
/// moment. Seconds to notice, and seconds from noticing to polling.
async fn blackhole_detection(
    n: usize,
    heartbeat_interval: Duration,
    heartbeat_timeout: Duration,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let stack = Arc::new(
        Stack::start(StackOptions {
            heartbeat_interval,
            heartbeat_timeout,
            time_window: Duration::from_secs(600),
        })
        .await?,
    );
    let mut handles = Vec::new();
    for _ in 0..n {
        let stack = stack.clone();
        handles.push(tokio::spawn(async move {
            let proxy = FaultProxy::start(stack.relay.addr()).await?;
            let clock = ServerClock::new();
            let cfg = SessionConfig::with_relay(proxy.base_url(), stack.terminal_key.clone());
            let mut t = till(&stack, cfg, stack.gateway(clock.clone())?, clock);
            wait_state(&mut t.sub, ConnectionState::Live, Duration::from_secs(10)).await?;
            tokio::time::sleep(Duration::from_millis(rand::random_range(0..12_000))).await;
            let holed = Instant::now();
            proxy.blackhole();
            let noticed = wait_state(
                &mut t.sub,
                ConnectionState::Reconnecting,
                Duration::from_secs(60),
            )
            .await?;
            let polling = wait_state(
                &mut t.sub,
                ConnectionState::Polling,
                Duration::from_secs(60),
            )
            .await?;
            t.session.shutdown().await;
            proxy.shutdown().await;
            anyhow::Ok((
                (noticed - holed).as_secs_f64(),
                (polling - noticed).as_secs_f64(),
            ))
        }));
    }
    let (mut noticed, mut polling) = (Vec::new(), Vec::new());
    for h in handles {
        let (a, b) = h.await??;
        noticed.push(a);
        polling.push(b);
    }
    if let Ok(s) = Arc::try_unwrap(stack) {
        s.shutdown().await;
    }
    Ok((noticed, polling))
}
