//! The relay benchmark: idle authenticated sessions held, RSS per session, and webhook-to-
//! push latency, against the real `paydesk-relay` binary in its own process.
//!
//! `cargo bench -p paydesk-relay --bench relay-bench` runs three scenarios, each on a fresh
//! relay: 15,000 idle sessions (RSS from /proc), then latency with 1,000 and with 10,000
//! sessions. Clients are this same binary started as `client` subprocesses, each on its own
//! 127.0.0.x source address (one address has ~28,000 ephemeral ports; a process may hold
//! 20,000 files). Clients are deliberately thin: one current-thread runtime, raw
//! hand-written WebSocket framing, string matching instead of JSON parsing.
//!
//! A fourth scenario runs two relay instances on one `redis-server` (started here), posts
//! every webhook to the first and holds half the sessions on the second.
//!
//! Those latency scenarios are the worst case: every session is a merchant-scope terminal
//! of one merchant, so each webhook fans out to all of them (the merchant-wide broadcast).
//! The "spread" scenarios are a relay as deployed for many small shops: each merchant's
//! till terminal (`--tills` sessions of it) gets its payments' events, webhooks arrive at a
//! steady `--rate` for merchants in a fixed permutation. The "chain" scenarios are one
//! merchant with `N` tills, each its own terminal and session, plus `--wide` merchant-scope
//! sessions (back offices): each webhook is one till's payment, routed to that till and to
//! the merchant-wide sessions only; till and merchant-wide latencies are reported apart.
//!
//! `--terminals N` measures the relay's memory at start with N terminals registered and no
//! session, against none.
//!
//! Options (after `--`): `--idle N`, `--latency N,M`, `--redis N,M`, `--events K`,
//! `--spread N,M`, `--tills T`, `--rate R`, `--spread-events K`, `--redis-spread N,M`,
//! `--chain N,M`, `--redis-chain N,M`, `--wide W`, `--chain-events K`, `--terminals N,M`,
//! `--clients C` (a list may be empty: `--redis ''`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use paydesk_protocol::signature;
use paydesk_protocol::wire::{self, Scope};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, ChildStdin, Command};

const SECRET: &str = "whsec_bench";
const SECRET_ENV: &str = "PAYDESK_RELAY_SECRET_BENCH";

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// A numeric option, or its default.
fn num<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    arg(args, name).map_or(default, |v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name} wants a number, not {v}"))
    })
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn main() {
    // Clients hold thousands of sockets each: use the whole hard limit.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("client") {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(client(args));
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(coordinator(args));
}

// ---------------------------------------------------------------- coordinator

struct Relay {
    child: Child,
    pid: u32,
    url: String,
    _dir: Arc<tempfile::TempDir>,
}

/// A session's kind, as the clients tag their latencies: a till, or merchant-wide.
const TILL: char = 't';
const WIDE: char = 'm';

/// One line of a client's plan: a terminal key, how many sessions to open with it, and
/// which kind they are.
#[derive(Clone)]
struct PlanLine {
    key: String,
    sessions: usize,
    kind: char,
}

/// The merchants and terminal keys shared by every relay of a scenario, and which client
/// process holds how many sessions on which key.
struct Terminals {
    dir: Arc<tempfile::TempDir>,
    merchants: Vec<String>,
    /// The till terminal ids webhooks are routed to (spread: one per merchant; chain: one
    /// per till).
    till_ids: Vec<String>,
    plans: Vec<Vec<PlanLine>>,
}

impl Terminals {
    /// One merchant; `sessions` merchant-scope sessions spread over `procs` client
    /// processes, one key each: every webhook reaches every session.
    fn one_merchant(sessions: usize, procs: usize) -> Terminals {
        let mut store = paydesk_relay::TerminalStore::default();
        let plans = (0..procs)
            .map(|i| {
                let t = store
                    .add_with("bench", &format!("office-{i}"), Scope::Merchant, 0)
                    .unwrap();
                let share = sessions / procs + usize::from(i < sessions % procs);
                vec![PlanLine {
                    key: t.key.expose().to_owned(),
                    sessions: share,
                    kind: WIDE,
                }]
            })
            .collect();
        Terminals::save(store, vec!["bench".to_owned()], Vec::new(), plans)
    }

    /// `merchants` merchants of one till terminal each, held by `tills` sessions; merchant
    /// j's sit in client process j % procs.
    fn spread(merchants: usize, tills: usize, procs: usize) -> Terminals {
        let mut store = paydesk_relay::TerminalStore::default();
        let mut plans = vec![Vec::new(); procs];
        let names: Vec<String> = (0..merchants).map(|j| format!("m{j}")).collect();
        let mut ids = Vec::new();
        for (j, m) in names.iter().enumerate() {
            let t = store.add_with(m, "till", Scope::Till, 0).unwrap();
            ids.push(t.id);
            plans[j % procs].push(PlanLine {
                key: t.key.expose().to_owned(),
                sessions: tills,
                kind: TILL,
            });
        }
        Terminals::save(store, names, ids, plans)
    }

    /// One merchant with `tills` till terminals (a session each) and `wide` merchant-scope
    /// ones, spread over `procs` client processes.
    fn chain(tills: usize, wide: usize, procs: usize) -> Terminals {
        let mut store = paydesk_relay::TerminalStore::default();
        let mut plans = vec![Vec::new(); procs];
        let mut ids = Vec::with_capacity(tills);
        for i in 0..tills {
            let t = store
                .add_with(
                    "chain",
                    &format!("store-{}-till-{}", i / 4, i % 4),
                    Scope::Till,
                    0,
                )
                .unwrap();
            ids.push(t.id);
            plans[i % procs].push(PlanLine {
                key: t.key.expose().to_owned(),
                sessions: 1,
                kind: TILL,
            });
        }
        for i in 0..wide {
            let t = store
                .add_with("chain", &format!("office-{i}"), Scope::Merchant, 0)
                .unwrap();
            plans[i % procs].push(PlanLine {
                key: t.key.expose().to_owned(),
                sessions: 1,
                kind: WIDE,
            });
        }
        Terminals::save(store, vec!["chain".to_owned()], ids, plans)
    }

    /// `n` till terminals of one merchant and no session (memory at start).
    fn registered(n: usize) -> Terminals {
        let mut store = paydesk_relay::TerminalStore::default();
        for i in 0..n {
            store
                .add_with(
                    "chain",
                    &format!("store-{}-till-{}", i / 4, i % 4),
                    Scope::Till,
                    0,
                )
                .unwrap();
        }
        Terminals::save(store, vec!["chain".to_owned()], Vec::new(), Vec::new())
    }

    fn save(
        store: paydesk_relay::TerminalStore,
        merchants: Vec<String>,
        till_ids: Vec<String>,
        plans: Vec<Vec<PlanLine>>,
    ) -> Terminals {
        let dir = tempfile::tempdir().unwrap();
        store.save(&dir.path().join("terminals.toml")).unwrap();
        Terminals {
            dir: Arc::new(dir),
            merchants,
            till_ids,
            plans,
        }
    }

    fn sessions(&self) -> usize {
        self.plans.iter().flatten().map(|l| l.sessions).sum()
    }

    fn sessions_of(&self, kind: char) -> usize {
        self.plans
            .iter()
            .flatten()
            .filter(|l| l.kind == kind)
            .map(|l| l.sessions)
            .sum()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A private redis-server for the Redis scenario; killed when dropped.
async fn redis_server() -> (Child, String) {
    let port = free_port();
    let mut child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("redis-server");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while let Some(l) = lines.next_line().await.unwrap() {
        if l.contains("Ready to accept connections") {
            break;
        }
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, format!("redis://127.0.0.1:{port}/"))
}

impl Relay {
    async fn start(terminals: &Terminals, redis: Option<&str>) -> Relay {
        let port = free_port();
        let dir = &terminals.dir;
        let backend = match redis {
            Some(url) => format!("[backend]\nkind = \"redis\"\nredis_url = \"{url}\"\n"),
            None => String::new(),
        };
        let cfg = dir.path().join(format!("relay-{port}.toml"));
        let merchants: String = terminals
            .merchants
            .iter()
            .map(|m| format!("[[merchant]]\nid = \"{m}\"\nsecrets_env = \"{SECRET_ENV}\"\n"))
            .collect();
        std::fs::write(
            &cfg,
            format!(
                r#"listen = "127.0.0.1:{port}"
terminals_file = "{}"
[limits]
max_connections = 19000
max_http_connections = 600
ticket_rate_per_key = {{ burst = 100000, per_minute = 6000000 }}
ticket_rate_per_addr = {{ burst = 100000, per_minute = 6000000 }}
{backend}
{merchants}"#,
                dir.path().join("terminals.toml").display()
            ),
        )
        .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_paydesk-relay"))
            .args(["serve", "--config"])
            .arg(&cfg)
            .env(SECRET_ENV, SECRET)
            .env("PAYDESK_RELAY_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("the relay binary");
        let pid = child.id().unwrap();
        let url = format!("http://127.0.0.1:{port}");
        // A benchmark may wait for a process to come up; tests may not.
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while http
            .get(format!("{url}/healthz"))
            .send()
            .await
            .map(|r| !r.status().is_success())
            .unwrap_or(true)
        {
            assert!(Instant::now() < deadline, "relay did not come up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Relay {
            child,
            pid,
            url,
            _dir: dir.clone(),
        }
    }

    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    async fn stop(mut self) {
        // SIGTERM: the relay closes every session with 1012 and exits.
        let _ = std::process::Command::new("kill")
            .arg(self.pid.to_string())
            .status();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
    }
}

struct Clients {
    pids: Vec<u32>,
    procs: Vec<(Child, ChildStdin)>,
    lines: tokio::sync::mpsc::Receiver<String>,
}

impl Clients {
    /// Starts one client process per plan of `terminals` (process i on relay i mod the
    /// number of relays); returns when every session has its hello.
    async fn start(relays: &[&Relay], terminals: &Terminals) -> Clients {
        let (tx, lines) = tokio::sync::mpsc::channel(1024);
        let mut children = Vec::new();
        let procs = terminals.plans.iter().filter(|p| !p.is_empty()).count();
        for (i, plan) in terminals.plans.iter().enumerate() {
            if plan.is_empty() {
                continue;
            }
            let plan_file = terminals.dir.path().join(format!("client-{i}.plan"));
            let lines: String = plan
                .iter()
                .map(|l| format!("{} {} {}\n", l.key, l.sessions, l.kind))
                .collect();
            std::fs::write(&plan_file, lines).unwrap();
            let mut child = Command::new(std::env::current_exe().unwrap())
                .arg("client")
                .args(["--url", &relays[i % relays.len()].url])
                .args(["--source", &format!("127.0.0.{}", i + 2)])
                .arg("--plan")
                .arg(&plan_file)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .kill_on_drop(true)
                .spawn()
                .unwrap();
            let stdin = child.stdin.take().unwrap();
            let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
            let tx = tx.clone();
            tokio::spawn(async move {
                while let Ok(Some(l)) = out.next_line().await {
                    if tx.send(l).await.is_err() {
                        break;
                    }
                }
            });
            children.push((child, stdin));
        }
        let mut c = Clients {
            pids: children.iter().filter_map(|(c, _)| c.id()).collect(),
            procs: children,
            lines,
        };
        let mut ready = 0;
        while ready < procs {
            let l = tokio::time::timeout(Duration::from_secs(300), c.lines.recv())
                .await
                .expect("clients took too long to connect")
                .expect("a client died");
            if l.starts_with("ready") {
                ready += 1;
            } else if l.starts_with("error") {
                panic!("client: {l}");
            }
        }
        c
    }

    /// Closes the clients' stdin; each prints its latencies (µs) by session kind and
    /// exits.
    async fn finish(mut self) -> Latencies {
        // Dropping the pipe is what closes it (shutdown only flushes).
        let children: Vec<Child> = self.procs.drain(..).map(|(c, _stdin)| c).collect();
        let mut lat = Latencies::default();
        let mut done = 0;
        while done < children.len() {
            let Some(l) = self.lines.recv().await else {
                break;
            };
            if let Some(rest) = l.strip_prefix("lat ") {
                let (kind, values) = rest.split_once(' ').unwrap_or((rest, ""));
                let into = if kind == "m" {
                    &mut lat.wide
                } else {
                    &mut lat.till
                };
                into.extend(values.split(' ').filter_map(|v| v.parse::<u64>().ok()));
            } else if l.starts_with("done") {
                done += 1;
            }
        }
        for mut child in children {
            let _ = child.wait().await;
        }
        lat.till.sort_unstable();
        lat.wide.sort_unstable();
        lat
    }
}

/// Webhook-to-push latencies (µs, sorted) seen by till and by merchant-wide sessions.
#[derive(Default)]
struct Latencies {
    till: Vec<u64>,
    wide: Vec<u64>,
}

/// How webhooks are sent: one at a time with a pause after each, or at a steady rate.
#[derive(Clone, Copy)]
enum Pace {
    Gap(Duration),
    PerSecond(u32),
}

/// Posts `events` signed webhooks to `relay`, event i for merchant and till `target(i)`
/// (a payment the till created: its id in the metadata).
async fn post_events(
    relay: &Relay,
    events: usize,
    pace: Pace,
    target: impl Fn(usize) -> (String, Option<String>),
) {
    let http = reqwest::Client::new();
    let mut ticks = match pace {
        Pace::PerSecond(r) => Some(tokio::time::interval(Duration::from_secs_f64(
            1.0 / f64::from(r.max(1)),
        ))),
        Pace::Gap(_) => None,
    };
    for i in 0..events {
        if let Some(t) = ticks.as_mut() {
            t.tick().await;
        }
        let (merchant, till) = target(i);
        let metadata = till
            .map(|t| format!(r#","metadata":{{"{}":"{t}"}}"#, wire::TILL_METADATA_KEY))
            .unwrap_or_default();
        let sent = now_ns();
        let body = format!(
            r#"{{"id":"evt_bench_{sent}_{i}","type":"payment.captured","created":1700000000,"data":{{"object":{{"id":"pay_{i}","amount":1250,"currency":"USD","status":"succeeded","captured":true,"description":"bench-{sent}"{metadata}}}}}}}"#
        );
        let t = (sent / 1_000_000_000) as i64;
        let res = http
            .post(format!("{}/webhooks/{merchant}", relay.url))
            .header(
                signature::HEADER,
                signature::sign(SECRET.as_bytes(), t, body.as_bytes()),
            )
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(
            res.status().is_success(),
            "webhook refused: {}",
            res.status()
        );
        if let Pace::Gap(gap) = pace {
            tokio::time::sleep(gap).await;
        }
    }
}

fn pct(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

async fn coordinator(args: Vec<String>) {
    let idle: usize = num(&args, "--idle", 15_000);
    let list = |name: &str, default: &str| -> Vec<usize> {
        arg(&args, name)
            .unwrap_or_else(|| default.into())
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|v| v.parse().unwrap())
            .collect()
    };
    let latency = list("--latency", "1000,10000");
    let redis_latency = list("--redis", "1000");
    let events: usize = num(&args, "--events", 20);
    let procs: usize = num(&args, "--clients", 4);
    let spread = list("--spread", "1000,10000");
    let redis_spread = list("--redis-spread", "");
    let tills: usize = num(&args, "--tills", 5);
    let rate: u32 = num(&args, "--rate", 200);
    let spread_events: usize = num(&args, "--spread-events", 4000);
    let chain = list("--chain", "10000");
    let redis_chain = list("--redis-chain", "");
    let wide: usize = num(&args, "--wide", 10);
    let chain_events: usize = num(&args, "--chain-events", 4000);
    let registered = list("--terminals", "");

    println!("relay benchmark: {} cores", num_cpus());
    let mut rows = Vec::new();
    if idle > 0 {
        let terminals = Terminals::one_merchant(idle, procs);
        let relay = Relay::start(&terminals, None).await;
        let base = relay.rss_kib();
        let t0 = Instant::now();
        let clients = Clients::start(&[&relay], &terminals).await;
        let connect_s = t0.elapsed().as_secs_f64();
        // Let allocator and runtime settle, and a heartbeat or two pass.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let rss = relay.rss_kib();
        let per = (rss.saturating_sub(base)) as f64 * 1024.0 / idle as f64;
        rows.push(format!(
            "| idle | {idle} | {base} KiB | {rss} KiB | {:.1} KiB | {:.1} KiB | connected in {connect_s:.1} s | | |",
            per / 1024.0,
            rss as f64 / idle as f64,
        ));
        println!("{}", rows.last().unwrap());
        let _ = clients.finish().await;
        relay.stop().await;
    }
    if !registered.is_empty() {
        let empty = Relay::start(&Terminals::registered(0), None).await;
        let base = empty.rss_kib();
        empty.stop().await;
        for &n in &registered {
            let relay = Relay::start(&Terminals::registered(n), None).await;
            let rss = relay.rss_kib();
            relay.stop().await;
            rows.push(format!(
                "| terminals registered, no session | {n} | {base} KiB (none) | {rss} KiB | {:.0} bytes a terminal | | | | |",
                rss.saturating_sub(base) as f64 * 1024.0 / n as f64
            ));
            println!("{}", rows.last().unwrap());
        }
    }
    // Far enough apart that one event's fan-out never queues behind the previous one.
    let broadcast_gap =
        |n: usize| Pace::Gap(Duration::from_millis(if n >= 5000 { 1000 } else { 200 }));
    let scenarios = latency
        .iter()
        .map(|&n| {
            (
                "latency, one merchant, merchant-wide",
                false,
                n,
                Shape::Broadcast,
            )
        })
        .chain(redis_latency.iter().map(|&n| {
            (
                "latency, one merchant, merchant-wide, redis, 2 instances",
                true,
                n,
                Shape::Broadcast,
            )
        }))
        .chain(spread.iter().map(|&n| ("spread", false, n, Shape::Spread)))
        .chain(
            redis_spread
                .iter()
                .map(|&n| ("spread, redis, 2 instances", true, n, Shape::Spread)),
        )
        .chain(chain.iter().map(|&n| ("chain", false, n, Shape::Chain)))
        .chain(
            redis_chain
                .iter()
                .map(|&n| ("chain, redis, 2 instances", true, n, Shape::Chain)),
        );
    for (name, two_on_redis, n, shape) in scenarios.collect::<Vec<_>>() {
        let terminals = match shape {
            Shape::Broadcast => Terminals::one_merchant(n, procs),
            Shape::Spread => Terminals::spread(n.div_ceil(tills), tills, procs),
            Shape::Chain => Terminals::chain(n, wide, procs),
        };
        // With Redis: two instances, webhooks go to the first, half the sessions sit on
        // the second, so every push to those crosses Redis.
        let redis = if two_on_redis {
            Some(redis_server().await)
        } else {
            None
        };
        let url = redis.as_ref().map(|(_, url)| url.as_str());
        let mut relays = vec![Relay::start(&terminals, url).await];
        if two_on_redis {
            relays.push(Relay::start(&terminals, url).await);
        }
        let refs: Vec<&Relay> = relays.iter().collect();
        let row = match shape {
            Shape::Broadcast => {
                let want = Want {
                    till: 0,
                    wide: (n * events) as u64,
                };
                latency_run(
                    name,
                    &refs,
                    &terminals,
                    events,
                    broadcast_gap(n),
                    want,
                    |_| ("bench".into(), None),
                )
                .await
            }
            Shape::Spread => {
                let m = terminals.merchants.len();
                let label = format!("{name}: {m} merchants × {tills} tills, {rate} webhooks/s");
                let stride = permutation_stride(m);
                let ids = terminals.till_ids.clone();
                let want = Want {
                    till: (tills * spread_events) as u64,
                    wide: 0,
                };
                latency_run(
                    &label,
                    &refs,
                    &terminals,
                    spread_events,
                    Pace::PerSecond(rate),
                    want,
                    move |i| {
                        let j = (i * stride) % m;
                        (format!("m{j}"), Some(ids[j].clone()))
                    },
                )
                .await
            }
            Shape::Chain => {
                let label = format!(
                    "{name}: 1 merchant, {n} tills + {wide} merchant-wide, {rate} webhooks/s"
                );
                let stride = permutation_stride(n);
                let ids = terminals.till_ids.clone();
                let want = Want {
                    till: chain_events as u64,
                    wide: (wide * chain_events) as u64,
                };
                latency_run(
                    &label,
                    &refs,
                    &terminals,
                    chain_events,
                    Pace::PerSecond(rate),
                    want,
                    move |i| ("chain".into(), Some(ids[(i * stride) % n].clone())),
                )
                .await
            }
        };
        rows.push(row);
        println!("{}", rows.last().unwrap());
        for r in relays {
            r.stop().await;
        }
    }
    println!();
    println!("| scenario | sessions | relay RSS before | relay RSS after | RSS/session (delta) | RSS/session (total) | notes | p50 | p99 |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
}

/// The load shapes (see the module docs).
#[derive(Clone, Copy)]
enum Shape {
    Broadcast,
    Spread,
    Chain,
}

/// Pushes a run must deliver, to tills and to merchant-wide sessions.
#[derive(Clone, Copy)]
struct Want {
    till: u64,
    wide: u64,
}

/// A fixed permutation of `m` targets (a stride near m / φ, coprime with m): every one
/// gets events, and consecutive events land far apart.
fn permutation_stride(m: usize) -> usize {
    (m * 618 / 1000..m).find(|s| gcd(*s, m) == 1).unwrap_or(1)
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Holds the sessions of `terminals` over `relays`, posts `events` webhooks to the first
/// relay (event i for the merchant and till `target(i)`), and reports webhook-to-push
/// latency (tills and merchant-wide sessions apart), CPU per push, and whether every
/// session got exactly the pushes routed to it.
async fn latency_run(
    name: &str,
    relays: &[&Relay],
    terminals: &Terminals,
    events: usize,
    pace: Pace,
    want: Want,
    target: impl Fn(usize) -> (String, Option<String>),
) -> String {
    let n = terminals.sessions();
    let base: u64 = relays.iter().map(|r| r.rss_kib()).sum();
    let clients = Clients::start(relays, terminals).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let relay_cpu = || relays.iter().map(|r| cpu_ms(r.pid)).sum::<u64>();
    let relay_user = || relays.iter().map(|r| cpu_split_ms(r.pid).0).sum::<u64>();
    let (cpu0, user0) = (relay_cpu(), relay_user());
    let clients_cpu0: u64 = clients.pids.iter().map(|p| cpu_ms(*p)).sum();
    let t0 = Instant::now();
    post_events(relays[0], events, pace, target).await;
    let posting_s = t0.elapsed().as_secs_f64();
    // The last event's deliveries: give them a moment before the clients report.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (cpu, user) = (relay_cpu() - cpu0, relay_user() - user0);
    let clients_cpu = clients.pids.iter().map(|p| cpu_ms(*p)).sum::<u64>() - clients_cpu0;
    let rss: u64 = relays.iter().map(|r| r.rss_kib()).sum();
    let lat = clients.finish().await;
    let pushes = (want.till + want.wide).max(1);
    let mut got = Vec::new();
    let mut p50 = Vec::new();
    let mut p99 = Vec::new();
    for (label, lat, want, sessions) in [
        ("tills", &lat.till, want.till, terminals.sessions_of(TILL)),
        (
            "merchant-wide",
            &lat.wide,
            want.wide,
            terminals.sessions_of(WIDE),
        ),
    ] {
        if want == 0 && lat.is_empty() && sessions == 0 {
            continue;
        }
        got.push(format!("{label} {}/{want}", lat.len()));
        p50.push(format!("{label} {:.2} ms", pct(lat, 0.50)));
        p99.push(format!(
            "{label} **{:.2} ms** (max {:.2})",
            pct(lat, 0.99),
            pct(lat, 1.0)
        ));
    }
    format!(
        "| {name} | {n} | {base} KiB | {rss} KiB | {:.1} KiB | | {events} events in {posting_s:.1} s, pushes {}; CPU per push: relay {:.1} µs ({:.1} user), clients {:.1} µs | {} | {} |",
        (rss.saturating_sub(base)) as f64 / n as f64,
        got.join(", "),
        cpu as f64 * 1000.0 / pushes as f64,
        user as f64 * 1000.0 / pushes as f64,
        clients_cpu as f64 * 1000.0 / pushes as f64,
        p50.join(" · "),
        p99.join(" · "),
    )
}

/// User + system CPU time of a process, in milliseconds (from /proc, 100 Hz ticks).
fn cpu_ms(pid: u32) -> u64 {
    let (u, s) = cpu_split_ms(pid);
    u + s
}

/// (user, system) CPU milliseconds of a process.
fn cpu_split_ms(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    (ticks(11) * 10, ticks(12) * 10)
}

fn num_cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

// ---------------------------------------------------------------- client

async fn client(args: Vec<String>) {
    let url = arg(&args, "--url").unwrap();
    let source: std::net::IpAddr = arg(&args, "--source").unwrap().parse().unwrap();
    // One line per terminal key: "<key> <sessions> <kind>".
    let plan: Vec<(String, usize, char)> = std::fs::read_to_string(arg(&args, "--plan").unwrap())
        .unwrap()
        .lines()
        .filter_map(|l| {
            let mut f = l.split(' ');
            let (k, n, kind) = (f.next()?, f.next()?, f.next()?);
            Some((k.to_owned(), n.parse().ok()?, kind.chars().next()?))
        })
        .collect();
    let addr: std::net::SocketAddr = url.trim_start_matches("http://").parse().unwrap();
    let http = reqwest::Client::builder()
        .local_address(source)
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    // Per session kind (till, merchant-wide).
    let latencies = Arc::new(Mutex::new(
        std::collections::BTreeMap::<char, Vec<u64>>::new(),
    ));
    let open = Arc::new(AtomicU64::new(0));
    let stop = tokio_util::sync::CancellationToken::new();
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            let sem = Arc::new(tokio::sync::Semaphore::new(64));
            let mut connecting = Vec::new();
            let keys = plan
                .iter()
                .flat_map(|(k, n, kind)| std::iter::repeat_n((k.clone(), *kind), *n));
            for (key, kind) in keys {
                let permit = sem.clone().acquire_owned().await.unwrap();
                let (http, lat, open, stop) =
                    (http.clone(), latencies.clone(), open.clone(), stop.clone());
                let url = url.clone();
                connecting.push(tokio::task::spawn_local(async move {
                    let ws = match open_session(&http, &url, addr, source, &key).await {
                        Ok(ws) => ws,
                        Err(e) => {
                            println!("error {e}");
                            return;
                        }
                    };
                    drop(permit);
                    open.fetch_add(1, Ordering::Relaxed);
                    hold(ws, kind, lat, stop).await;
                }));
            }
            // Wait until every session has its hello.
            let _ = sem.acquire_many(64).await;
            println!("ready {}", open.load(Ordering::Relaxed));
            std::io::stdout().flush().unwrap();
            // Hold until the coordinator closes stdin.
            let mut stdin = BufReader::new(tokio::io::stdin()).lines();
            while let Ok(Some(_)) = stdin.next_line().await {}
            stop.cancel();
            for t in connecting {
                let _ = t.await;
            }
        })
        .await;
    let lat = latencies.lock().unwrap();
    for (kind, values) in lat.iter() {
        for chunk in values.chunks(1000) {
            let line: Vec<String> = chunk.iter().map(u64::to_string).collect();
            println!("lat {kind} {}", line.join(" "));
        }
    }
    println!("done");
}

/// A session as the bench holds it: the socket and bytes read but not yet parsed.
struct RawWs {
    stream: tokio::net::TcpStream,
    buf: Vec<u8>,
}

/// Ticket, then a hand-written upgrade (the bench client stays as thin as a client can be).
async fn open_session(
    http: &reqwest::Client,
    url: &str,
    addr: std::net::SocketAddr,
    source: std::net::IpAddr,
    key: &str,
) -> Result<RawWs, String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let t: wire::TicketResponse = http
        .post(format!("{url}{}", wire::TICKETS_PATH))
        .bearer_auth(key)
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let socket = tokio::net::TcpSocket::new_v4().map_err(|e| e.to_string())?;
    socket
        .bind(std::net::SocketAddr::new(source, 0))
        .map_err(|e| e.to_string())?;
    let mut stream = socket.connect(addr).await.map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Protocol: {}\r\n\r\n",
        wire::WS_PATH,
        wire::offered_protocols(&t.ticket)
    );
    stream
        .write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::with_capacity(4096);
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        if stream.read_buf(&mut buf).await.map_err(|e| e.to_string())? == 0 {
            return Err("closed during the handshake".into());
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    if !head.starts_with("http/1.1 101") || !head.contains("sec-websocket-protocol: paydesk.v1\r\n")
    {
        return Err(format!("upgrade refused: {head}"));
    }
    buf.drain(..head_end);
    let mut ws = RawWs { stream, buf };
    match ws.next_text().await {
        Some(t) if find(&t, br#""type":"hello""#).is_some() => Ok(ws),
        other => Err(format!("no hello: {other:?}")),
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

impl RawWs {
    /// The next text frame's payload; `None` on close, error or a close frame.
    async fn next_text(&mut self) -> Option<Vec<u8>> {
        use tokio::io::AsyncReadExt as _;
        loop {
            if let Some((opcode, start, end)) = frame(&self.buf) {
                let payload = self.buf[start..end].to_vec();
                self.buf.drain(..end);
                match opcode {
                    1 => return Some(payload),
                    8 => return None,
                    _ => continue,
                }
            }
            match self.stream.read_buf(&mut self.buf).await {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// A masked text frame (mask 0: valid, and the payload needs no XOR).
    async fn send_text(&mut self, text: &str) -> std::io::Result<()> {
        use tokio::io::AsyncWriteExt as _;
        let mut f = vec![0x81, 0x80 | text.len() as u8, 0, 0, 0, 0];
        f.extend_from_slice(text.as_bytes());
        self.stream.write_all(&f).await
    }
}

/// (opcode, payload start, payload end) of the first complete server frame in `b`.
fn frame(b: &[u8]) -> Option<(u8, usize, usize)> {
    if b.len() < 2 {
        return None;
    }
    let opcode = b[0] & 0x0f;
    let (len, start) = match b[1] & 0x7f {
        126 if b.len() >= 4 => (u16::from_be_bytes([b[2], b[3]]) as usize, 4),
        127 if b.len() >= 10 => (u64::from_be_bytes(b[2..10].try_into().ok()?) as usize, 10),
        126 | 127 => return None,
        n => (n as usize, 2),
    };
    (b.len() >= start + len).then_some((opcode, start, start + len))
}

/// Holds a session: answers pings, timestamps events (under its kind).
async fn hold(
    mut ws: RawWs,
    kind: char,
    lat: Arc<Mutex<std::collections::BTreeMap<char, Vec<u64>>>>,
    stop: tokio_util::sync::CancellationToken,
) {
    loop {
        let msg = tokio::select! {
            _ = stop.cancelled() => return,
            m = ws.next_text() => m,
        };
        let Some(t) = msg else { return };
        if let Some(i) = find(&t, b"bench-") {
            let digits: String = t[i + 6..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .map(|c| *c as char)
                .collect();
            if let Ok(sent) = digits.parse::<u128>() {
                let us = now_ns().saturating_sub(sent) / 1000;
                lat.lock().unwrap().entry(kind).or_default().push(us as u64);
            }
        } else if find(&t, br#""type":"ping""#).is_some() {
            let seq: String = find(&t, br#""seq":"#)
                .map(|i| {
                    t[i + 6..]
                        .iter()
                        .take_while(|c| c.is_ascii_digit())
                        .map(|c| *c as char)
                        .collect()
                })
                .unwrap_or_default();
            if ws
                .send_text(&format!(r#"{{"type":"pong","seq":{seq}}}"#))
                .await
                .is_err()
            {
                return;
            }
        }
    }
}
