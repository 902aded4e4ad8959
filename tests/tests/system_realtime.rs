//! The realtime session against the real sandbox and a real `paydesk-relay` process, with
//! a fault-injecting proxy between terminal and relay. Every scenario checks every
//! payment's whole history: the right final status, no false paid, no transition lost or
//! shown twice.
//!
//! Needs the relay binary: `cargo build -p paydesk-relay --bin paydesk-relay` (the
//! README's test command builds every binary first).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use paydesk_core::clock::LocalClock;
use paydesk_core::clock::{local_now_ms, ServerClock};
use paydesk_core::gateway::Gateway;
use paydesk_core::payment::{Payment, PaymentStatus};
use paydesk_core::realtime::{ConnectionState, Session, SessionConfig};
use paydesk_core::tracker::{NoJournal, Source, Tracker, TrackerEvent};
use paydesk_tests::proxy::Mode;
use paydesk_tests::system::{unix_now_s, Recorder, Stack, StackOptions};
use tokio::time::Instant;

const SHORT: Duration = Duration::from_secs(10);
/// Upper bound for a till's first session to go live; a loaded 2-core CI run once took
/// longer than `SHORT` (eight stacks start at once). Only the wait is longer: every
/// assertion about what follows keeps its own bound.
const FIRST_LIVE: Duration = Duration::from_secs(30);

/// One till: a gateway, a tracker, a session, and a recorder of everything it showed.
struct Till {
    session: Session,
    rec: Recorder,
    gateway: Gateway,
}

impl Till {
    async fn start(stack: &Stack, cfg: SessionConfig) -> Result<Till> {
        let clock = ServerClock::new();
        let gateway = stack.gateway(clock.clone())?;
        let tracker =
            Tracker::with_clocks(Arc::new(NoJournal::default()), clock, LocalClock::system());
        Self::with(gateway, tracker, cfg)
    }

    fn with(gateway: Gateway, tracker: Tracker, cfg: SessionConfig) -> Result<Till> {
        let rec = Recorder::start(&tracker);
        let session = Session::start(cfg, tracker, gateway.clone());
        Ok(Till {
            session,
            rec,
            gateway,
        })
    }

    async fn live(&self) -> Result<Instant> {
        self.rec
            .wait_state(ConnectionState::Live, Instant::now() - SHORT, FIRST_LIVE)
            .await
    }

    async fn charge(&self, stack: &Stack, n: usize) -> Result<Vec<Payment>> {
        let mut out = Vec::new();
        for i in 0..n {
            let p = stack.create(&self.gateway, 100 + i as i128).await?;
            self.session.track(p.clone()).await?;
            out.push(p);
        }
        Ok(out)
    }

    async fn paid(&self, p: &Payment) -> Result<Source> {
        let (_, t) = self
            .rec
            .wait_status(&p.id, PaymentStatus::Succeeded, SHORT)
            .await?;
        Ok(t.source)
    }

    /// Lets late duplicates arrive, then checks every history.
    async fn settle_and_check(self, paid: &[&Payment], unpaid: &[&Payment]) -> Result<()> {
        tokio::time::sleep(Duration::from_millis(600)).await;
        for p in paid {
            self.rec.assert_history(&p.id, true)?;
        }
        for p in unpaid {
            self.rec.assert_history(&p.id, false)?;
            let now = self.session.tracker().get(&p.id).map(|v| v.status);
            assert_eq!(now, Some(PaymentStatus::Pending), "{}", p.id);
        }
        assert!(!self.rec.lagged(), "the recorder fell behind");
        self.session.shutdown().await;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_killed_and_restarted_mid_payment_loses_nothing() -> Result<()> {
    let mut stack = Stack::start(StackOptions::default()).await?;
    let till = Till::start(&stack, stack.session_config()).await?;
    till.live().await?;
    let mut ps = till.charge(&stack, 10).await?;

    for p in &ps[0..3] {
        stack.pay(&p.id).await?;
        assert_eq!(till.paid(p).await?, Source::RelayedWebhook);
    }

    let killed = Instant::now();
    stack.relay.kill().await?;
    // Captured while the relay is dead: the webhooks fail; polling must find them.
    for p in &ps[3..7] {
        stack.pay(&p.id).await?;
    }
    for p in &ps[3..7] {
        assert_eq!(till.paid(p).await?, Source::ApiRead);
    }
    till.rec
        .wait_state(ConnectionState::Polling, killed, SHORT)
        .await?;

    let restarted = Instant::now();
    stack.relay.restart().await?;
    till.rec
        .wait_state(ConnectionState::Live, restarted, SHORT)
        .await?;
    // Charged after the reconnect, so only a push (not the resync) can report them.
    ps.extend(till.charge(&stack, 4).await?);
    for p in &ps[10..13] {
        stack.pay(&p.id).await?;
        assert_eq!(till.paid(p).await?, Source::RelayedWebhook);
    }
    let paid: Vec<_> = ps[0..7].iter().chain(&ps[10..13]).collect();
    let unpaid: Vec<_> = ps[7..10].iter().chain([&ps[13]]).collect();
    till.settle_and_check(&paid, &unpaid).await?;
    stack.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blackholed_link_is_noticed_by_the_watchdog_and_polling_covers() -> Result<()> {
    let opts = StackOptions::default();
    let watchdog = opts.heartbeat_interval + opts.heartbeat_timeout;
    let stack = Stack::start(opts).await?;
    let till = Till::start(&stack, stack.session_config()).await?;
    till.live().await?;
    let ps = till.charge(&stack, 6).await?;
    stack.pay(&ps[0].id).await?;
    assert_eq!(till.paid(&ps[0]).await?, Source::RelayedWebhook);

    let holed = Instant::now();
    stack.relay_proxy.blackhole();
    for p in &ps[1..4] {
        stack.pay(&p.id).await?;
    }
    let noticed = till
        .rec
        .wait_state(ConnectionState::Reconnecting, holed, SHORT)
        .await?;
    let polling = till
        .rec
        .wait_state(ConnectionState::Polling, holed, SHORT)
        .await?;
    assert!(
        noticed - holed <= watchdog + Duration::from_millis(1500),
        "dead link noticed after {:?} (watchdog {watchdog:?})",
        noticed - holed
    );
    assert!(
        polling - noticed <= Duration::from_millis(500),
        "polling began {:?} after the link was found dead",
        polling - noticed
    );
    for p in &ps[1..4] {
        assert_eq!(till.paid(p).await?, Source::ApiRead);
    }

    let healed = Instant::now();
    stack.relay_proxy.forward();
    till.rec
        .wait_state(ConnectionState::Live, healed, SHORT)
        .await?;
    let fresh = till.charge(&stack, 1).await?.remove(0);
    stack.pay(&fresh.id).await?;
    let src = till.paid(&fresh).await?;
    assert_eq!(src, Source::RelayedWebhook, "{}", till.rec.dump(holed));
    assert!(till.session.stats().watchdog_fired >= 1);
    let paid: Vec<_> = ps[0..4].iter().chain([&fresh]).collect();
    till.settle_and_check(&paid, &[&ps[4], &ps[5]]).await?;
    stack.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_restart_with_1012_reconnects_and_resyncs() -> Result<()> {
    let mut stack = Stack::start(StackOptions::default()).await?;
    let till = Till::start(&stack, stack.session_config()).await?;
    till.live().await?;
    let ps = till.charge(&stack, 6).await?;
    stack.pay(&ps[0].id).await?;
    assert_eq!(till.paid(&ps[0]).await?, Source::RelayedWebhook);

    let stopping = Instant::now();
    stack.relay.terminate().await?;
    till.rec
        .wait_state(ConnectionState::Reconnecting, stopping, SHORT)
        .await?;
    // Paid during the restart: nobody pushes it.
    stack.pay(&ps[1].id).await?;
    stack.pay(&ps[2].id).await?;
    stack.relay.restart().await?;
    let back = till
        .rec
        .wait_state(ConnectionState::Live, stopping, SHORT)
        .await?;
    // Found by polling or by the resync at the new hello: either way from the API.
    assert_eq!(till.paid(&ps[1]).await?, Source::ApiRead);
    assert_eq!(till.paid(&ps[2]).await?, Source::ApiRead);
    assert!(back > stopping);
    let fresh = till.charge(&stack, 1).await?.remove(0);
    stack.pay(&fresh.id).await?;
    assert_eq!(till.paid(&fresh).await?, Source::RelayedWebhook);
    assert!(till.session.stats().sessions >= 2);
    assert!(till.session.stats().resyncs >= 1);
    let paid: Vec<_> = ps[0..3].iter().chain([&fresh]).collect();
    till.settle_and_check(&paid, &ps[3..6].iter().collect::<Vec<_>>())
        .await?;
    stack.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_5xx_and_429_bursts_are_ridden_out_without_hammering() -> Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    // No push at all: everything rides on polling.
    stack.relay_proxy.set(Mode::Refuse);
    let till = Till::start(&stack, stack.session_config()).await?;
    till.rec
        .wait_state(ConnectionState::Polling, Instant::now() - SHORT, SHORT)
        .await?;
    let ps = till.charge(&stack, 6).await?;

    // Half of all API requests fail.
    stack
        .set_faults(serde_json::json!({"error_rate_permille": 500, "error_status": 502}))
        .await?;
    for p in &ps[0..3] {
        stack.pay(&p.id).await?;
    }
    for p in &ps[0..3] {
        assert_eq!(till.paid(p).await?, Source::ApiRead);
    }

    // A 429 burst of 2 s: the till must wait it out, not hammer.
    stack.clear_faults().await?;
    let before = stack.stats().await?;
    stack
        .set_faults(serde_json::json!({"rate_limit_secs": 2}))
        .await?;
    stack.pay(&ps[3].id).await?;
    let (seen, _) = till
        .rec
        .wait_status(&ps[3].id, PaymentStatus::Succeeded, SHORT)
        .await?;
    let after = stack.stats().await?;
    let limited = after.injected_rate_limits - before.injected_rate_limits;
    // Two pending payments polled every 200 ms would make ~20 requests in 2 s.
    assert!(
        (1..=4).contains(&limited),
        "{limited} requests refused with 429 during the burst"
    );
    assert!(till.session.stats().api_rate_limited >= 1);
    assert!(seen.elapsed() < SHORT);
    let paid: Vec<_> = ps[0..4].iter().collect();
    till.settle_and_check(&paid, &[&ps[4], &ps[5]]).await?;
    stack.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_webhooks_are_found_by_the_api_while_live() -> Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    let mut cfg = stack.session_config();
    // The live-mode safety read, shortened from 45 s.
    cfg.live_check_every = Duration::from_millis(1500);
    let till = Till::start(&stack, cfg).await?;
    let live_at = till.live().await?;
    let ps = till.charge(&stack, 5).await?;
    // Every webhook lost on the way to the relay.
    stack
        .set_faults(serde_json::json!({"webhook_drop_rate_permille": 1000}))
        .await?;
    for p in &ps[0..3] {
        stack.pay(&p.id).await?;
    }
    for p in &ps[0..3] {
        assert_eq!(till.paid(p).await?, Source::ApiRead);
    }
    // Found without ever leaving live.
    assert!(till
        .rec
        .states()
        .iter()
        .all(|(at, s)| *at < live_at || *s == ConnectionState::Live));
    // Once webhooks flow again, so do pushes.
    stack.clear_faults().await?;
    let fresh = till.charge(&stack, 1).await?.remove(0);
    stack.pay(&fresh.id).await?;
    assert_eq!(till.paid(&fresh).await?, Source::RelayedWebhook);
    assert!(stack.stats().await?.webhooks_dropped >= 3);
    let paid: Vec<_> = ps[0..3].iter().chain([&fresh]).collect();
    till.settle_and_check(&paid, &[&ps[3], &ps[4]]).await?;
    stack.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_till_clock_minutes_off_still_counts_down_to_the_servers_deadline() -> Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    // The till believes it is 7 minutes earlier than it is. Deadlines are the payment
    // API's: the tracker counts on the clock the gateway measures from the API's answers
    // (as a till's terminal wires them), not on the relay's.
    let skew_ms = -7 * 60 * 1000;
    let api_clock = ServerClock::new();
    let gateway = stack.gateway_on(
        &stack.sandbox.base_url(),
        api_clock.clone(),
        LocalClock::skewed(skew_ms),
    )?;
    let tracker = Tracker::with_clocks(
        Arc::new(NoJournal::default()),
        api_clock,
        LocalClock::skewed(skew_ms),
    );
    let till = Till::with(gateway, tracker, stack.session_config())?;
    till.live().await?;
    let p = stack.create(&till.gateway, 500).await?;
    let deadline_ms = p.deadline_unix().expect("a deadline") * 1000;
    till.session.track(p.clone()).await?;
    let tick = till
        .rec
        .wait_for(SHORT, "a countdown tick", |evs| {
            evs.iter().find_map(|(_, e)| match e {
                TrackerEvent::Tick(t) if t.payment_id == p.id => Some(t.clone()),
                _ => None,
            })
        })
        .await?;
    let true_remaining_s = (deadline_ms - local_now_ms()) as f64 / 1000.0;
    assert_eq!(tick.deadline_unix_ms, deadline_ms);
    assert!(
        (tick.remaining_secs as f64 - true_remaining_s).abs() <= 1.5,
        "countdown shows {} s, the server has {true_remaining_s:.1} s left",
        tick.remaining_secs
    );
    let estimate = till.session.tracker().server_now_ms() - local_now_ms();
    assert!(
        estimate.abs() < 1000,
        "server time estimate off by {estimate} ms"
    );
    till.session.shutdown().await;
    stack.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_fires_once_and_a_last_second_capture_still_counts() -> Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    let till = Till::start(&stack, stack.session_config()).await?;
    till.live().await?;
    let deadline = unix_now_s() + 3;
    let lapsed = stack.create_expiring(&till.gateway, 100, deadline).await?;
    let last_second = stack.create_expiring(&till.gateway, 200, deadline).await?;
    till.session.track(lapsed.clone()).await?;
    till.session.track(last_second.clone()).await?;
    // Its webhook is lost: only the read at expiry can find the capture.
    stack
        .set_faults(serde_json::json!({"webhook_drop_rate_permille": 1000}))
        .await?;
    let pay_at = deadline * 1000 - 600;
    tokio::time::sleep(Duration::from_millis(
        u64::try_from(pay_at - local_now_ms()).unwrap_or(0),
    ))
    .await;
    stack.pay(&last_second.id).await?;

    let (_, t) = till
        .rec
        .wait_status(&lapsed.id, PaymentStatus::Expired, SHORT)
        .await?;
    assert_eq!(t.source, Source::ApiRead);
    assert_eq!(till.paid(&last_second).await?, Source::ApiRead);
    tokio::time::sleep(Duration::from_millis(800)).await;
    for p in [&lapsed, &last_second] {
        let expiries = till
            .rec
            .events()
            .iter()
            .filter(|(_, e)| matches!(e, TrackerEvent::Expired { payment_id, .. } if *payment_id == p.id))
            .count();
        assert_eq!(expiries, 1, "{} expired {expiries} times", p.id);
    }
    till.rec.assert_history(&last_second.id, true)?;
    let lapsed_history = till.rec.transitions_of(&lapsed.id);
    assert_eq!(lapsed_history.len(), 2);
    assert_eq!(lapsed_history[1].to, PaymentStatus::Expired);
    till.session.shutdown().await;
    stack.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_never_shows_a_wrong_status() -> Result<()> {
    use rand::{Rng, SeedableRng};
    let stack = Stack::start(StackOptions::default()).await?;
    let mut cfg = stack.session_config();
    cfg.live_check_every = Duration::from_secs(2);
    let till = Till::start(&stack, cfg).await?;
    till.live().await?;
    let ps = till.charge(&stack, 20).await?;
    let mut unpaid: Vec<&Payment> = ps.iter().collect();
    let mut paid: Vec<&Payment> = Vec::new();
    // Seeded: the same storm every run; only the network's timing varies.
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed_cafe);
    for _ in 0..24 {
        match rng.random_range(0..100) {
            0..=39 if !unpaid.is_empty() => {
                let p = unpaid.swap_remove(rng.random_range(0..unpaid.len()));
                stack.pay(&p.id).await?;
                paid.push(p);
            }
            40..=54 => {
                if stack.relay_proxy.mode() == Mode::Blackhole {
                    stack.relay_proxy.forward();
                } else {
                    stack.relay_proxy.blackhole();
                }
            }
            55..=64 => stack.relay_proxy.cut(),
            65..=74 => {
                stack
                    .set_faults(serde_json::json!({"fail_next": 3}))
                    .await?
            }
            75..=79 => {
                stack
                    .set_faults(serde_json::json!({"rate_limit_secs": 1}))
                    .await?
            }
            80..=89 => {
                stack
                    .set_faults(serde_json::json!({"drop_webhooks": 1}))
                    .await?
            }
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    stack.relay_proxy.forward();
    stack.clear_faults().await?;
    assert!(paid.len() >= 5, "the storm paid only {}", paid.len());
    for p in &paid {
        till.rec
            .wait_status(&p.id, PaymentStatus::Succeeded, Duration::from_secs(20))
            .await?;
    }
    till.settle_and_check(&paid, &unpaid).await?;
    stack.shutdown().await;
    Ok(())
}
