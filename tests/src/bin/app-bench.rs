//! The desktop app's own numbers: cold start to first paint, resident memory idle and
//! during a payment, CPU over 60 s with a payment pending. Drives the real app under Xvfb
//! through WebDriver (the e2e harness) and reads the kernel's accounting of the app's whole
//! process tree (the app plus its WebKit web and network processes) from /proc.
//!
//!     cargo build --release -p paydesk && \
//!     cargo run --release -p paydesk-tests --bin app-bench -- [path/to/paydesk] [seconds] [KEY=VALUE…]
//!
//! Prints a table. First paint is measured from spawning the app to the UI reporting
//! ready (snapshot rendered); it includes WebDriver's own start-up, so it is an upper bound.
//!
//!     app-bench --tap-to-qr [path/to/paydesk] [charges]
//!
//! measures tap to QR instead: in demo mode (the sandbox and the relay in the app, on
//! loopback), `charges` times (default 50) an amount is typed, then the time from the
//! Charge button's click to the QR painted (the frame after the QR image is decoded and
//! its screen shown) is taken inside the page, so WebDriver's own latency is not in it;
//! each payment is cancelled before the next. Prints p50, p90, p99 and the maximum.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use paydesk_tests::e2e::App;
use paydesk_tests::system::sibling_binary;

/// Every process whose executable is `exe`, and all their descendants.
fn process_tree(exe: &Path) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    let mut roots = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            if let Some(ppid) = stat_field(pid, 4).and_then(|p| u32::try_from(p).ok()) {
                parents.push((pid, ppid));
            }
            if std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|p| p == exe) {
                roots.push(pid);
            }
        }
    }
    let mut tree: HashSet<u32> = roots.into_iter().collect();
    loop {
        let before = tree.len();
        for (pid, ppid) in &parents {
            if tree.contains(ppid) {
                tree.insert(*pid);
            }
        }
        if tree.len() == before {
            break;
        }
    }
    tree.into_iter().collect()
}

/// When a process started, in wall-clock ms: now minus its age, the age being the system's
/// uptime (`/proc/uptime`) less the process's start in ticks since boot (`/proc/<pid>/stat`
/// field 22, 100 Hz); both count from boot, so the result is good to 10 ms.
fn process_start_ms(pid: u32) -> Option<u64> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_millis() as u64;
    let uptime_s: f64 = std::fs::read_to_string("/proc/uptime")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let ticks = stat_field(pid, 22)?;
    let age_ms = ((uptime_s * 1000.0) as u64).saturating_sub(ticks * 10);
    Some(now_ms.saturating_sub(age_ms))
}

/// Field `n` of `/proc/<pid>/stat`, numbered as in proc(5) (4 ppid, 14 utime, 15 stime,
/// 22 starttime). The command name (field 2) may hold spaces, so counting starts after it.
fn stat_field(pid: u32, n: usize) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_command = stat.rsplit_once(')')?.1;
    after_command
        .split_whitespace()
        .nth(n.checked_sub(3)?)?
        .parse()
        .ok()
}

/// A `/proc/<pid>/<file>` field in KiB ("VmRSS:", "Pss:").
fn field_kib(pid: u32, file: &str, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/{file}"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0)
}

/// Resident memory of the tree: RSS summed (counts the WebKit libraries shared by the
/// processes once per process) and PSS (shares each shared page among its users).
fn memory_kib(pids: &[u32]) -> (u64, u64) {
    let rss = pids.iter().map(|p| field_kib(*p, "status", "VmRSS:")).sum();
    let pss = pids
        .iter()
        .map(|p| field_kib(*p, "smaps_rollup", "Pss:"))
        .sum();
    (rss, pss)
}

/// The `n` mappings of a process with the most PSS (KiB), anonymous ones pooled.
fn top_mappings(pid: u32, n: usize) -> Vec<(u64, String)> {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
    let mut by_name: std::collections::HashMap<String, u64> = Default::default();
    let mut name = String::new();
    for line in smaps.lines() {
        let mut f = line.split_whitespace();
        match f.next() {
            Some("Pss:") => {
                let kib = f.next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
                *by_name.entry(name.clone()).or_default() += kib;
            }
            Some(first) if first.contains('-') && !first.ends_with(':') => {
                name = f.nth(4).unwrap_or("[anon]").to_owned();
            }
            _ => {}
        }
    }
    let mut v: Vec<(u64, String)> = by_name.into_iter().map(|(k, v)| (v, k)).collect();
    v.sort_unstable_by(|a, b| b.cmp(a));
    v.truncate(n);
    v
}

/// Each process's PSS (KiB) with its name; with `APP_BENCH_SMAPS` set, its largest
/// mappings go to stderr too.
fn pss_by_process(pids: &[u32]) -> Vec<(String, u64)> {
    let smaps = std::env::var_os("APP_BENCH_SMAPS").is_some();
    pids.iter()
        .map(|p| {
            let name = format!("{} ({p})", comm(*p));
            if smaps {
                eprintln!("== {name}");
                for (kib, mapping) in top_mappings(*p, 10) {
                    eprintln!("   {kib:>7} KiB  {mapping}");
                }
            }
            (name, field_kib(*p, "smaps_rollup", "Pss:"))
        })
        .collect()
}

fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// utime + stime of the processes, in clock ticks.
fn cpu_ticks(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|pid| Some(stat_field(*pid, 14)? + stat_field(*pid, 15)?))
        .sum()
}

/// Memory of an empty Tauri window (the `blank-window` example), measured like the app's.
async fn baseline(exe: &Path) -> Result<()> {
    // The WebKit setting PayDesk makes for itself (`choose_webkit_compositing`), so the
    // floor is measured as the app runs; `--baseline-gpu` leaves compositing on.
    let gpu = std::env::args().any(|a| a == "--baseline-gpu");
    let env: &[(&str, &str)] = if gpu {
        &[]
    } else {
        &[("WEBKIT_DISABLE_COMPOSITING_MODE", "1")]
    };
    let app = App::launch_binary("baseline", exe, env).await?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let tree = process_tree(exe);
    let (rss, pss) = memory_kib(&tree);
    let mib = |k: u64| k as f64 / 1024.0;
    let mode = if gpu {
        "compositing on"
    } else {
        "compositing off, as PayDesk runs"
    };
    println!("| empty Tauri window ({mode}) | PSS (RSS summed) |");
    println!("| --- | --- |");
    println!("| whole tree | {:.1} MiB ({:.1} MiB) |", mib(pss), mib(rss));
    for (name, kib) in pss_by_process(&tree) {
        println!("| … {name} | {:.1} MiB |", mib(kib));
    }
    app.close().await?;
    Ok(())
}

/// The page's own clock from the Charge click to the QR painted (two frames after the QR
/// image of a new payment has loaded and the payment screen shows).
const TAP_TO_QR_JS: &str = r#"
const done = arguments[arguments.length - 1];
const qr = document.getElementById('qr');
const screen = document.getElementById('screen-payment');
const before = qr.dataset.id || '';
const t0 = performance.now();
document.getElementById('charge').click();
const check = () => {
  if (qr.dataset.id && qr.dataset.id !== before && qr.complete && qr.naturalWidth > 0 && !screen.hidden) {
    requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now() - t0)));
  } else if (performance.now() - t0 > 20000) {
    done(-1);
  } else {
    requestAnimationFrame(check);
  }
};
check();
"#;

/// The `q`th quantile (0..=1) of sorted samples, nearest rank.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Tap to QR, `charges` times, in demo mode.
async fn tap_to_qr(exe: &Path, charges: usize) -> Result<()> {
    let app = App::launch_binary("tap-to-qr", exe, &[("PAYDESK_CURRENCY", "EUR")]).await?;
    app.wait_attr(
        "[data-testid=connection]",
        "data-state",
        "live",
        Duration::from_secs(30),
    )
    .await?;
    let mut samples = Vec::with_capacity(charges);
    for i in 0..charges {
        for k in ["4", "2"] {
            app.click(&format!("#screen-charge [data-key='{k}']"))
                .await
                .with_context(|| format!("charge {i}: the keypad"))?;
        }
        // "Charge 42.00 EUR" (an older build: "Charge"), not "Creating payment…".
        app.wait_text("[data-testid=charge]", Duration::from_secs(15), |t| {
            t.starts_with("Charge")
        })
        .await?;
        let ms = app
            .client
            .execute_async(TAP_TO_QR_JS, vec![])
            .await
            .with_context(|| format!("charge {i}: the charge"))?
            .as_f64()
            .context("the page gave no time")?;
        anyhow::ensure!(ms >= 0.0, "charge {i}: no QR within 20 s");
        samples.push(ms);
        app.click("[data-testid=cancel]")
            .await
            .with_context(|| format!("charge {i}: cancel"))?;
        app.wait_attr(
            "[data-testid=result]",
            "data-status",
            "cancelled",
            Duration::from_secs(15),
        )
        .await?;
        // By script: an older build shows "Charge again" in its place.
        app.client
            .execute("document.getElementById('new-sale').click()", vec![])
            .await
            .with_context(|| format!("charge {i}: new sale"))?;
        app.wait_attr("body", "data-screen", "charge", Duration::from_secs(15))
            .await?;
    }
    app.close().await?;
    samples.sort_by(f64::total_cmp);
    println!("| tap to QR over {charges} charges | ms |");
    println!("| --- | --- |");
    for (name, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0)] {
        println!("| {name} | {:.1} |", quantile(&samples, q));
    }
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    paydesk_core::init_tls();
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--tap-to-qr") {
        let exe: PathBuf = match args.get(2) {
            Some(p) => PathBuf::from(p),
            None => sibling_binary("paydesk")?,
        };
        let charges = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(50);
        return tap_to_qr(&exe.canonicalize().context("the app binary")?, charges).await;
    }
    if args.get(1).map(String::as_str) == Some("--baseline") {
        let exe = args
            .get(2)
            .context("--baseline needs the blank-window binary")?;
        return baseline(&PathBuf::from(exe).canonicalize()?).await;
    }
    let exe: PathBuf = match args.get(1) {
        Some(p) => PathBuf::from(p),
        None => sibling_binary("paydesk")?,
    };
    let exe = exe.canonicalize().context("the app binary")?;
    let window: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(60);
    // Further arguments are KEY=VALUE pairs for the app's environment (for experiments).
    let env: Vec<(&str, &str)> = args
        .iter()
        .skip(3)
        .filter_map(|kv| kv.split_once('='))
        .collect();
    // SAFETY-free: sysconf(_SC_CLK_TCK) is 100 on Linux.
    let ticks_per_sec = 100.0;

    let started = Instant::now();
    let app = App::launch_binary("bench", &exe, &env).await?;
    let first_paint = started.elapsed();
    // The app's own part: from the kernel starting its process to the UI's first frame
    // with the snapshot on screen (both wall-clock; the start has 10 ms resolution).
    let painted_at: Option<u64> = {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let v = app.attr("body", "data-painted-at").await?;
            if let Some(ms) = v.and_then(|v| v.parse().ok()) {
                break Some(ms);
            }
            if Instant::now() > deadline {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let app_paint_ms = painted_at.and_then(|painted| {
        let root = process_tree(&exe).into_iter().min()?;
        Some(painted.saturating_sub(process_start_ms(root)?))
    });
    app.wait_attr(
        "[data-testid=connection]",
        "data-state",
        "live",
        Duration::from_secs(15),
    )
    .await?;
    // Let start-up settle before reading idle memory.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let tree = process_tree(&exe);
    let idle = memory_kib(&tree);

    for k in ["4", "2"] {
        app.click(&format!("#screen-charge [data-key='{k}']"))
            .await?;
    }
    app.click("[data-testid=charge]").await?;
    app.wait_text("[data-testid=pay-status]", Duration::from_secs(15), |t| {
        t == "Waiting for payment"
    })
    .await?;
    let tree = process_tree(&exe);
    let before: Vec<(u32, u64)> = tree.iter().map(|p| (*p, cpu_ticks(&[*p]))).collect();
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(window)).await;
    let wall = t0.elapsed().as_secs_f64();
    let per_process: Vec<(String, f64)> = before
        .iter()
        .map(|(pid, t)| {
            let used = cpu_ticks(&[*pid]).saturating_sub(*t) as f64 / ticks_per_sec / wall * 100.0;
            (format!("{} ({pid})", comm(*pid)), used)
        })
        .collect();
    let cpu_pct: f64 = per_process.iter().map(|(_, c)| c).sum();
    let pending = memory_kib(&tree);
    let pss_each = pss_by_process(&tree);
    // A till with a second screen: the customer display mirrors the pending payment.
    let main_window = app.client.window().await?;
    app.click("[data-testid=open-customer-display]").await?;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let windows = app.client.windows().await?;
        if windows.iter().any(|w| *w != main_window) {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the customer display never opened"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let with_display_tree = process_tree(&exe);
    let with_display = memory_kib(&with_display_tree);
    app.close().await?;

    println!("| metric | value | target |");
    println!("| --- | --- | --- |");
    println!(
        "| cold start to first paint: app process started → snapshot on screen | {} | < 1500 ms |",
        app_paint_ms.map_or("unknown".to_owned(), |ms| format!("{ms} ms"))
    );
    println!(
        "| … the same from spawning WebDriver (tauri-driver, WebKitWebDriver, session) | {} ms | |",
        first_paint.as_millis()
    );
    let mib = |k: u64| k as f64 / 1024.0;
    println!(
        "| memory idle, PSS (RSS summed) | {:.1} MiB ({:.1} MiB) | < 150 MB |",
        mib(idle.1),
        mib(idle.0)
    );
    println!(
        "| memory with a payment pending, PSS (RSS summed) | {:.1} MiB ({:.1} MiB) | < 150 MB |",
        mib(pending.1),
        mib(pending.0)
    );
    println!(
        "| memory with a payment pending and the customer display open, PSS (RSS summed) | {:.1} MiB ({:.1} MiB), {} processes | < 150 MB |",
        mib(with_display.1),
        mib(with_display.0),
        with_display_tree.len()
    );
    for (name, kib) in pss_each {
        println!("| … {name} | {:.1} MiB | |", mib(kib));
    }
    println!("| CPU over {window} s, payment pending (whole tree, % of one core) | {cpu_pct:.2} % | < 1 % |");
    for (name, pct) in per_process {
        println!("| … {name} | {pct:.2} % | |");
    }
    Ok(())
}
