//! Device files and serial ports: a job appended to a real file, and a real pseudo-terminal
//! standing in for a serial printer (set raw at the asked speed, so not one byte is
//! translated on the way).
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(unix)]

mod common;

use std::io::Read as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::time::Duration;

use common::*;
use paydesk_receipt::testing::decode;
use paydesk_receipt::{Cut, PrintError};
use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
use tokio::time::timeout;

#[tokio::test]
async fn a_device_file_gets_each_job_appended() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lp0");
    std::fs::write(&path, b"").unwrap();
    let url = format!("file://{}", path.display());
    let printer = printer(settings(&url, "80mm", "cp858"));
    let receipt = euro_sale_with_items();
    let job = printer.encode(&receipt);

    printer.print(&receipt).await.unwrap();
    printer.print(&pound_refund()).await.unwrap();

    let written = std::fs::read(&path).unwrap();
    assert!(written.starts_with(&job));
    let first = decode(&job).unwrap();
    assert_eq!(first.cut, Some(Cut::Partial));
    assert!(first.line_with("€12.50").is_some());
    let second = decode(&written[job.len()..]).unwrap();
    assert!(second.line_with("-£5.00").is_some());
}

#[tokio::test]
async fn a_missing_device_says_it_is_not_connected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("usb").join("lp0");
    let printer = printer(settings(path.to_str().unwrap(), "80mm", "cp858"));

    let error = printer.print(&euro_sale_with_items()).await.unwrap_err();

    assert!(
        matches!(error, PrintError::NotConnected { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("check the cable"));
    assert!(error.to_string().contains(path.to_str().unwrap()));
}

#[tokio::test]
async fn a_regular_file_is_not_a_serial_port() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ttyUSB0");
    std::fs::write(&path, b"").unwrap();
    let url = format!("serial://{}?baud=19200", path.display());
    let printer = printer(settings(&url, "80mm", "cp858"));

    let error = printer.print(&euro_sale_with_items()).await.unwrap_err();

    assert!(matches!(error, PrintError::NotSerial { .. }), "{error:?}");
    assert!(std::fs::read(&path).unwrap().is_empty());
}

#[tokio::test]
async fn a_serial_printer_gets_the_job_raw_at_its_speed() {
    // The pseudo-terminal's slave end is the "serial port"; the test reads the master end.
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).unwrap();
    grantpt(&master).unwrap();
    unlockpt(&master).unwrap();
    let slave_path = ptsname(&master, Vec::new()).unwrap();
    let slave_path = slave_path.to_str().unwrap().to_owned();
    // Held open so the port's settings outlive the printer's close, for the check below.
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(i32::try_from(rustix::fs::OFlags::NOCTTY.bits()).unwrap())
        .open(&slave_path)
        .unwrap();
    let url = format!("serial://{slave_path}?baud=19200");
    let printer = printer(settings(&url, "58mm", "cp858"));
    let receipt = euro_sale_with_items();
    let expected = printer.encode(&receipt);

    let len = expected.len();
    let mut master = std::fs::File::from(master);
    let reader = tokio::task::spawn_blocking(move || {
        let mut got = vec![0u8; len];
        // The master goes back too: closing it would hang the port up.
        master.read_exact(&mut got).map(|()| (got, master))
    });
    printer.print(&receipt).await.unwrap();
    let (got, _master) = timeout(Duration::from_secs(10), reader)
        .await
        .unwrap()
        .unwrap()
        .unwrap();

    // Raw: no LF became CR LF, no byte was lost or added.
    assert_eq!(got, expected);
    let decoded = decode(&got).unwrap();
    assert!(decoded.line_with("€12.50").is_some());
    let tio = rustix::termios::tcgetattr(&slave).unwrap();
    assert_eq!(tio.output_speed(), 19200);
    assert!(!tio
        .output_modes
        .contains(rustix::termios::OutputModes::OPOST));
}
