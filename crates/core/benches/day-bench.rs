//! What closing a busy day costs: `day::compute` (the journal read back into a report, every
//! payment's transitions scanned for repairs), the report's CSV, and its slip laid out and
//! encoded for an 80 mm printer, on a real journal file with N payments in one day (all
//! paid, one in ten refunded, one in twenty repaired by reconciliation).
//!
//! `cargo bench -p paydesk-core --bench day-bench [-- --runs N --payments 100,1000,5000]`

use std::process::ExitCode;
use std::time::{Duration, Instant};

use chrono::Local;
use paydesk_core::day::{self, Period};
use paydesk_core::journal::Journal;
use paydesk_core::merge::Source;
use paydesk_core::{Currency, Money, Payment, PaymentStatus};
use paydesk_receipt::{Printer, PrinterSettings, Shop};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("day-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut runs = 11usize;
    let mut sizes = vec![100usize, 1000, 5000];
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--runs" => runs = args.next().ok_or("--runs needs a number")?.parse()?,
            "--payments" => {
                sizes = args
                    .next()
                    .ok_or("--payments needs a list")?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?
            }
            "--bench" => {}
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    let printer = Printer::new(&PrinterSettings::new("tcp://127.0.0.1:9100"))?;
    let shop = Shop {
        name: "Bench shop".into(),
        address: vec!["1 Main Street".into()],
    };
    println!("| payments | compute | CSV | slip (layout + ESC/POS) |");
    println!("| --- | --- | --- | --- |");
    for n in sizes {
        let dir = tempfile::tempdir()?;
        let journal = Journal::open(dir.path().join("journal.sqlite3"))?;
        fill(&journal, n)?;
        let today = Local::now().date_naive();
        let mut compute = Vec::new();
        let mut csv = Vec::new();
        let mut slip = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            let report = day::compute(&journal, Period::Day(today), now_ms())?;
            compute.push(t.elapsed());
            if report.payments != n {
                return Err(format!("{} payments in the report, {n} made", report.payments).into());
            }
            let t = Instant::now();
            let mut out = Vec::new();
            report.write_csv(&mut out)?;
            csv.push(t.elapsed());
            let t = Instant::now();
            let bytes = printer.encode(&report.receipt(&shop));
            slip.push(t.elapsed());
            std::hint::black_box(bytes);
        }
        println!(
            "| {n} | {} | {} | {} |",
            stats(&mut compute),
            stats(&mut csv),
            stats(&mut slip)
        );
    }
    Ok(())
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn fill(j: &Journal, n: usize) -> Result<(), Box<dyn std::error::Error>> {
    let eur = Currency::from_code("EUR")?;
    let created = chrono::Utc::now().timestamp();
    for i in 0..n {
        let order = format!("T1-bench-{i:05}");
        let money = Money::new(100 + i128::try_from(i % 5000)?, eur);
        j.record_intent(&order, money, None, "Till 1")?;
        let mut p: Payment = serde_json::from_value(serde_json::json!({
            "id": format!("pay-{i:05}"),
            "amount": money.minor,
            "currency": "EUR",
            "status": "pending",
            "created": created,
            "order_id": order,
        }))?;
        j.attach_payment(&order, &p)?;
        p.status = PaymentStatus::Succeeded;
        p.captured = true;
        if i % 10 == 0 {
            p.amount_refunded = money.minor / 2;
        }
        let source = if i % 20 == 0 {
            Source::Reconciliation
        } else {
            Source::ApiRead
        };
        j.record_snapshot(&p, source, now_ms())?;
    }
    Ok(())
}

/// `median (min–max)`.
fn stats(samples: &mut [Duration]) -> String {
    samples.sort();
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    format!(
        "{} ({}–{})",
        ms(samples[samples.len() / 2]),
        ms(samples[0]),
        ms(samples[samples.len() - 1])
    )
}
