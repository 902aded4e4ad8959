//! The OS print queue through `lp`, against a fake `lp` (a shell script first on `PATH`)
//! that keeps its arguments and standard input in files, refuses the queue `broken` the
//! way CUPS does, and hangs on the queue `stuck`. Each test uses its own queue name.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(unix)]

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

use common::*;
use paydesk_receipt::testing::decode;
use paydesk_receipt::transport::Spooler;
use paydesk_receipt::PrintError;

const FAKE_LP: &str = r#"#!/bin/sh
# A fake CUPS lp: keeps its arguments and the job where the test reads them.
out="$(dirname "$0")"
queue=default
args="$*"
while [ $# -gt 0 ]; do
  case "$1" in
    -d) queue="$2"; shift 2 ;;
    *) shift ;;
  esac
done
case "$queue" in
  broken) echo "lp: The printer or class does not exist." >&2; exit 1 ;;
  stuck) exec sleep 30 ;;
esac
printf '%s\n' "$args" > "$out/$queue.args"
cat > "$out/$queue.job"
echo "request id is $queue-1 (1 file(s))"
"#;

/// The directory holding the fake `lp`, put first on this test process's `PATH` once,
/// before any test spawns a process.
fn fake_lp_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("paydesk-fake-lp")
            .tempdir()
            .unwrap()
            .keep();
        let lp = dir.join("lp");
        std::fs::write(&lp, FAKE_LP).unwrap();
        std::fs::set_permissions(&lp, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![dir.clone()];
        dirs.extend(std::env::split_paths(&path));
        std::env::set_var("PATH", std::env::join_paths(dirs).unwrap());
        dir
    })
}

#[tokio::test]
async fn lp_gets_the_job_raw_on_its_standard_input() {
    let dir = fake_lp_dir();
    let printer = printer(settings("lp://receipts", "80mm", "cp858"));
    let receipt = euro_sale_with_items();

    printer.print(&receipt).await.unwrap();

    let args = std::fs::read_to_string(dir.join("receipts.args")).unwrap();
    assert_eq!(args.trim(), "-d receipts -o raw");
    let job = std::fs::read(dir.join("receipts.job")).unwrap();
    assert_eq!(job, printer.encode(&receipt));
    assert!(decode(&job).unwrap().line_with("€12.50").is_some());
}

#[tokio::test]
async fn cups_url_without_a_queue_prints_to_the_default_queue() {
    let dir = fake_lp_dir();
    let printer = printer(settings("cups://", "58mm", "cp858"));

    printer.print(&pound_refund()).await.unwrap();

    let args = std::fs::read_to_string(dir.join("default.args")).unwrap();
    assert_eq!(args.trim(), "-o raw");
    let job = std::fs::read(dir.join("default.job")).unwrap();
    assert!(decode(&job).unwrap().line_with("-£5.00").is_some());
}

#[tokio::test]
async fn a_queue_that_refuses_shows_the_spoolers_words() {
    fake_lp_dir();
    let printer = printer(settings("lp://broken", "80mm", "cp858"));

    let error = printer.print(&euro_sale_with_items()).await.unwrap_err();

    assert_eq!(
        error.to_string(),
        "Print queue 'broken' refused the receipt: lp: The printer or class does not exist."
    );
}

#[tokio::test]
async fn a_hung_lp_is_killed_at_the_deadline() {
    fake_lp_dir();
    let printer = printer(settings("lp://stuck", "80mm", "cp858"));
    let started = Instant::now();

    let error = printer.print(&euro_sale_with_items()).await.unwrap_err();

    assert!(matches!(error, PrintError::TimedOut { .. }), "{error:?}");
    assert!(started.elapsed() <= timeouts().total());
}

#[tokio::test]
async fn a_missing_lp_says_to_install_cups() {
    fake_lp_dir();
    let printer = printer(settings("lp://receipts", "80mm", "cp858")).with_transport(Box::new(
        Spooler::new(Some("receipts".into())).with_program("/nonexistent/paydesk/lp"),
    ));

    let error = printer.print(&euro_sale_with_items()).await.unwrap_err();

    assert!(matches!(error, PrintError::SpoolerMissing), "{error:?}");
    assert!(error.to_string().contains("install CUPS"));
}
