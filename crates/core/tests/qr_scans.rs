//! The QR codes PayDesk draws scan back to the payment URL: the SVG's path and the
//! terminal's half blocks are turned back into pixels and read by a real QR decoder.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use paydesk_core::qr;

const URLS: &[&str] = &[
    "https://pay.crypto.com/pay/a8608fef-05bf-4a43-9d16-6c0f2235ece7",
    "http://192.168.1.20:48123/checkout/pay_0123456789abcdef?lang=en&t=1",
    "x",
];

/// Pixels from a module grid, `scale` pixels per module; dark is 0.
fn decode(modules: &[Vec<bool>]) -> String {
    let scale = 6;
    let n = modules.len();
    let img = rqrr::PreparedImage::prepare_from_greyscale(n * scale, n * scale, |x, y| {
        if modules[y / scale][x / scale] {
            0
        } else {
            255
        }
    });
    let mut img = img;
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "exactly one code is found");
    grids[0].decode().expect("the code decodes").1
}

/// Fills the grid from our own path syntax: `M{x} {y}h{run}v1h-{run}z` per dark run.
fn modules_from_svg(svg: &str) -> Vec<Vec<bool>> {
    let view = svg.split("viewBox=\"0 0 ").nth(1).unwrap();
    let n: usize = view.split(' ').next().unwrap().parse().unwrap();
    let dark_path = svg.split("fill=\"#000\" d=\"").nth(1).unwrap();
    let dark_path = &dark_path[..dark_path.find('"').unwrap()];
    let mut grid = vec![vec![false; n]; n];
    for run in dark_path.split('M').filter(|r| !r.is_empty()) {
        let (xy, rest) = run.split_once('h').unwrap();
        let (x, y) = xy.split_once(' ').unwrap();
        let (x, y): (usize, usize) = (x.parse().unwrap(), y.parse().unwrap());
        let len: usize = rest.split_once('v').unwrap().0.parse().unwrap();
        for cell in &mut grid[y][x..x + len] {
            *cell = true;
        }
    }
    grid
}

/// Two module rows per line; on a dark background a drawn half is a light module.
fn modules_from_terminal(text: &str) -> Vec<Vec<bool>> {
    let mut grid = Vec::new();
    for line in text.lines() {
        let (mut top, mut bottom) = (Vec::new(), Vec::new());
        for c in line.chars() {
            let (t, b) = match c {
                '█' => (true, true),
                '▀' => (true, false),
                '▄' => (false, true),
                ' ' => (false, false),
                other => panic!("unexpected character {other:?}"),
            };
            top.push(!t);
            bottom.push(!b);
        }
        grid.push(top);
        grid.push(bottom);
    }
    let width = grid[0].len();
    grid.truncate(width);
    grid
}

#[test]
fn svg_scans_back_to_the_payment_url() {
    for url in URLS {
        let svg = qr::svg(url).unwrap();
        assert_eq!(decode(&modules_from_svg(&svg)), *url);
    }
}

#[test]
fn terminal_code_scans_back_to_the_payment_url() {
    for url in URLS {
        let text = qr::terminal(url).unwrap();
        assert_eq!(decode(&modules_from_terminal(&text)), *url);
    }
}
