//! What a PIN costs: one argon2id hash at the shipped cost, and a PIN check at tills with
//! 1 to 20 people (a PIN alone is checked against each current person's hash, most recently
//! seen first, the rest spread over the cores, so a wrong PIN costs one verify per person).
//! Prints a table and the process's peak resident memory.
//!
//! `cargo bench -p paydesk-staff --bench pin-bench [-- --runs N --staff 1,5,10,20]`

use std::process::ExitCode;
use std::time::{Duration, Instant};

use paydesk_staff::{Pin, PinCost, PinHash, Policy, Role, StaffStore};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pin-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut runs = 15usize;
    let mut sizes = vec![1usize, 5, 10, 20];
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--runs" => runs = args.next().ok_or("--runs needs a number")?.parse()?,
            "--staff" => {
                sizes = args
                    .next()
                    .ok_or("--staff needs a list")?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?
            }
            "--bench" => {}
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    let cost = PinCost::DEFAULT;
    println!(
        "argon2id m={} KiB t={} p={}, {runs} runs each, median (min-max)\n",
        cost.memory_kib(),
        cost.passes(),
        cost.lanes()
    );
    println!("| what | time |");
    println!("| --- | --- |");
    let pin: Pin = "739251".parse()?;
    let hash = PinHash::new(&pin, cost)?;
    row(
        "hash a new PIN",
        time(runs, || PinHash::new(&pin, cost).is_ok()),
    )?;
    row("verify one PIN", time(runs, || hash.matches(&pin)))?;

    for &n in &sizes {
        let dir = tempfile::tempdir()?;
        let policy = Policy {
            till_attempts: u32::MAX,
            ..Policy::default()
        };
        let store = StaffStore::open(dir.path().join("staff.sqlite3"), policy)?;
        let pins: Vec<Pin> = (0..n)
            .map(|i| format!("{:06}", 100_000 + i).parse())
            .collect::<Result<_, _>>()?;
        store.provision_owner("Owner", &pins[0])?;
        for (i, p) in pins.iter().enumerate().skip(1) {
            let grant = store.authorize(
                &pins[0],
                paydesk_staff::Action::Staff,
                &paydesk_staff::Context::none(),
            )?;
            store.add(grant, &format!("Person {i}"), Role::Cashier, p)?;
        }
        let wrong: Pin = "999999".parse()?;
        // The last person signing in again is checked first.
        let last = &pins[n - 1];
        store.sign_in(last)?;
        row(
            &format!("{n} staff: right PIN, most recently seen"),
            time(runs, || store.sign_in(last).is_ok()),
        )?;
        // Round robin: each sign-in is of the person seen longest ago, checked last.
        for p in &pins {
            store.sign_in(p)?;
        }
        let mut turn = 0;
        row(
            &format!("{n} staff: right PIN, seen longest ago"),
            time(runs, || {
                let ok = store.sign_in(&pins[turn % n]).is_ok();
                turn += 1;
                ok
            }),
        )?;
        row(
            &format!("{n} staff: wrong PIN (checks everyone)"),
            time(runs, || store.sign_in(&wrong).is_err()),
        )?;
    }
    println!("\npeak resident memory: {}", peak_rss());
    Ok(())
}

/// Median, min and max of `runs` calls; each call must say it did what it should.
fn time(runs: usize, mut f: impl FnMut() -> bool) -> Result<[Duration; 3], String> {
    let mut t = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        if !f() {
            return Err("a measured call gave the wrong answer".into());
        }
        t.push(start.elapsed());
    }
    t.sort();
    Ok([t[t.len() / 2], t[0], t[t.len() - 1]])
}

fn row(what: &str, t: Result<[Duration; 3], String>) -> Result<(), String> {
    let [median, min, max] = t?;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "| {what} | {:.1} ms ({:.1}-{:.1}) |",
        ms(median),
        ms(min),
        ms(max)
    );
    Ok(())
}

fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.trim_start_matches("VmHWM:").trim().to_owned())
        })
        .unwrap_or_else(|| "n/a (no /proc)".into())
}
