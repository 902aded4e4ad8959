//! What the journal's own thread buys: a till's async workers stay on time while the journal
//! fsyncs. On a runtime of two workers (the shipping machine's two cores), a ticker task
//! wakes every 5 ms and records how late it woke, while 8 tasks each journal 400 charge
//! intents (`synchronous = FULL`: one fsync per write) on a real SQLite file — once calling
//! the journal inline from the async tasks (what the core did before: the worker blocks for
//! the fsync), once through `JournalHandle` (the journal's thread does it, the worker
//! awaits). Prints the ticker's lateness (p50, p99, max) and the writes per second.
//!
//! `cargo bench -p paydesk-core --bench journal-bench [-- --runs N]`

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use paydesk_core::journal::{Journal, JournalHandle};
use paydesk_core::{Currency, Money};

const TASKS: usize = 8;
const WRITES_PER_TASK: usize = 400;
const TICK: Duration = Duration::from_millis(5);

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("journal-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Way {
    Inline,
    OwnThread,
}

struct Outcome {
    late_ms: Vec<f64>,
    writes_per_s: f64,
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut runs = 3usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--runs" => runs = args.next().ok_or("--runs needs a number")?.parse()?,
            "--bench" => {}
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    println!(
        "| journal calls ({TASKS} tasks × {WRITES_PER_TASK} fsynced writes, 2 workers) | ticker late p50 | p99 | max | writes/s |"
    );
    println!("| --- | --- | --- | --- | --- |");
    for way in [Way::Inline, Way::OwnThread] {
        for _ in 0..runs {
            let o = once(way)?;
            let mut late = o.late_ms;
            late.sort_by(f64::total_cmp);
            let q = |p: f64| {
                let i = ((p * late.len() as f64).ceil() as usize).clamp(1, late.len()) - 1;
                late[i]
            };
            println!(
                "| {} | {:.2} ms | {:.2} ms | {:.2} ms | {:.0} |",
                match way {
                    Way::Inline => "inline on the async workers (before)",
                    Way::OwnThread => "JournalHandle: the journal's own thread (now)",
                },
                q(0.5),
                q(0.99),
                late.last().copied().unwrap_or(f64::NAN),
                o.writes_per_s
            );
        }
    }
    Ok(())
}

fn once(way: Way) -> Result<Outcome, Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let dir = tempfile::tempdir()?;
    let journal = Arc::new(Journal::open(dir.path().join("journal.sqlite3"))?);
    let eur = Currency::from_code("EUR")?;
    rt.block_on(async move {
        let handle = JournalHandle::spawn(Arc::clone(&journal))?;
        let stop = Arc::new(tokio::sync::Notify::new());
        let ticker = {
            let stop = Arc::clone(&stop);
            tokio::spawn(async move {
                let mut late = Vec::new();
                loop {
                    let due = Instant::now() + TICK;
                    tokio::select! {
                        () = stop.notified() => return late,
                        () = tokio::time::sleep_until(due.into()) => {
                            late.push(due.elapsed().as_secs_f64() * 1000.0);
                        }
                    }
                }
            })
        };
        let started = Instant::now();
        let mut writers = Vec::new();
        for t in 0..TASKS {
            let journal = Arc::clone(&journal);
            let handle = handle.clone();
            writers.push(tokio::spawn(async move {
                for i in 0..WRITES_PER_TASK {
                    let order = format!("B-{t}-{i}");
                    let money = Money::new(420, eur);
                    match way {
                        // The worker thread itself waits for SQLite and the disk.
                        Way::Inline => {
                            journal.record_intent(&order, money, None, "Till 1")?;
                        }
                        Way::OwnThread => {
                            handle
                                .call(move |j| j.record_intent(&order, money, None, "Till 1"))
                                .await?;
                        }
                    }
                    tokio::task::yield_now().await;
                }
                Ok::<_, paydesk_core::journal::JournalError>(())
            }));
        }
        for w in writers {
            w.await??;
        }
        let elapsed = started.elapsed();
        stop.notify_one();
        let late_ms = ticker.await?;
        Ok(Outcome {
            late_ms,
            writes_per_s: (TASKS * WRITES_PER_TASK) as f64 / elapsed.as_secs_f64(),
        })
    })
}
