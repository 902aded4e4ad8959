//! Load benchmark: many tills polling payments through the gateway client, against an
//! in-process sandbox over loopback HTTP.
//!
//! Each till creates a payment, then polls it with conditional reads (`If-None-Match`)
//! until the sandbox marks it paid half-way through, then cancels a second one. Prints
//! latency percentiles per operation, throughput, and how many poll answers were a
//! body-less 304. Run:
//!
//! ```sh
//! cargo run -p paydesk-sandbox --example load -- [tills] [polls per till]
//! ```

use std::time::{Duration, Instant};

use anyhow::Context as _;
use paydesk_core::clock::ServerClock;
use paydesk_core::gateway::{Fetched, Gateway, GatewayConfig};
use paydesk_protocol::payment::CreatePayment;
use paydesk_protocol::Secret;
use paydesk_sandbox::{SandboxConfig, SandboxHandle};
use tokio::task::JoinSet;

#[derive(Default)]
struct Samples {
    create: Vec<Duration>,
    poll: Vec<Duration>,
    cancel: Vec<Duration>,
    not_modified: u64,
    modified: u64,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(name: &str, mut v: Vec<Duration>) {
    v.sort();
    println!(
        "{name:<8} n={:<6} p50={:>7.2?} p90={:>7.2?} p99={:>7.2?} max={:>7.2?}",
        v.len(),
        percentile(&v, 0.50),
        percentile(&v, 0.90),
        percentile(&v, 0.99),
        v.last().copied().unwrap_or_default()
    );
}

async fn till(
    sb_pay: tokio::sync::mpsc::Sender<String>,
    gw: Gateway,
    polls: usize,
) -> anyhow::Result<Samples> {
    let mut s = Samples::default();
    let req = CreatePayment {
        amount: 1250,
        currency: "USD".into(),
        ..Default::default()
    };
    let t = Instant::now();
    let p = gw.create_payment(&req).await.context("create")?;
    s.create.push(t.elapsed());
    let mut etag: Option<String> = None;
    for i in 0..polls {
        if i == polls / 2 {
            sb_pay.send(p.id.clone()).await.context("pay queue")?;
        }
        let t = Instant::now();
        match gw
            .retrieve_payment_once(&p.id, etag.as_deref())
            .await
            .context("poll")?
        {
            Fetched::NotModified => s.not_modified += 1,
            Fetched::Modified { etag: e, .. } => {
                s.modified += 1;
                etag = e;
            }
        }
        s.poll.push(t.elapsed());
    }
    let other = gw.create_payment(&req).await.context("create")?;
    let t = Instant::now();
    gw.cancel_payment(&other.id).await.context("cancel")?;
    s.cancel.push(t.elapsed());
    Ok(s)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let tills: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(50);
    let polls: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(40);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let sb: SandboxHandle = paydesk_sandbox::spawn(listener, SandboxConfig::default()).await?;
    let config = GatewayConfig::new(sb.api_url(), Secret::new("sk_test_sandbox"));

    // The "customer" pays through the handle, as the demo's button does.
    let (pay_tx, mut pay_rx) = tokio::sync::mpsc::channel::<String>(tills.max(1));
    let started = Instant::now();
    let mut set = JoinSet::new();
    for _ in 0..tills {
        let gw = Gateway::new(config.clone(), ServerClock::new())?;
        set.spawn(till(pay_tx.clone(), gw, polls));
    }
    drop(pay_tx);
    let mut total = Samples::default();
    let mut paid = 0;
    loop {
        tokio::select! {
            Some(id) = pay_rx.recv() => {
                sb.pay(&id).map_err(|e| anyhow::anyhow!(e.message))?;
                paid += 1;
            }
            done = set.join_next() => match done {
                Some(r) => {
                    let s = r??;
                    total.create.extend(s.create);
                    total.poll.extend(s.poll);
                    total.cancel.extend(s.cancel);
                    total.not_modified += s.not_modified;
                    total.modified += s.modified;
                }
                None => break,
            },
        }
    }
    let elapsed = started.elapsed();
    let stats = sb.stats();
    sb.shutdown().await;

    println!("{tills} tills × {polls} polls, {paid} paid, in {elapsed:.2?}");
    println!(
        "throughput {:.0} API requests/s",
        stats.requests as f64 / elapsed.as_secs_f64()
    );
    report("create", total.create);
    report("poll", total.poll);
    report("cancel", total.cancel);
    let polls_total = total.modified + total.not_modified;
    println!(
        "polls answered 304 Not Modified: {} of {} ({:.0}%)",
        total.not_modified,
        polls_total,
        100.0 * total.not_modified as f64 / polls_total.max(1) as f64
    );
    Ok(())
}
