//! QR codes for a payment's URL: an SVG for the app's payment screen and customer display,
//! and Unicode half blocks for `paydesk-cli charge` in a terminal.
//!
//! Both keep the standard four-module quiet zone: a phone camera finds a code much faster
//! with it, and a screen edge or a dark terminal background is not a quiet zone. Error
//! correction M survives a smudged screen while keeping a payment URL to a small version.

use qrcode::{Color, EcLevel, QrCode};

/// Modules of light margin around the code (the standard asks for four).
pub const QUIET_ZONE: usize = 4;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrError {
    #[error("nothing to encode in a QR code")]
    Empty,
    #[error("the text is too long for a QR code ({0} bytes)")]
    TooLong(usize),
    #[error("cannot encode this text as a QR code: {0}")]
    Encode(String),
}

/// A square grid of modules, quiet zone included; `true` is dark.
struct Grid {
    size: usize,
    dark: Vec<bool>,
}

impl Grid {
    fn encode(data: &str) -> Result<Grid, QrError> {
        if data.is_empty() {
            return Err(QrError::Empty);
        }
        let code = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M).map_err(
            |e| match e {
                qrcode::types::QrError::DataTooLong => QrError::TooLong(data.len()),
                other => QrError::Encode(other.to_string()),
            },
        )?;
        let width = code.width();
        let size = width + 2 * QUIET_ZONE;
        let colors = code.to_colors();
        let mut dark = vec![false; size * size];
        for (i, color) in colors.iter().enumerate() {
            if *color == Color::Dark {
                let (y, x) = (i / width, i % width);
                dark[(y + QUIET_ZONE) * size + x + QUIET_ZONE] = true;
            }
        }
        Ok(Grid { size, dark })
    }

    fn is_dark(&self, x: usize, y: usize) -> bool {
        x < self.size && y < self.size && self.dark[y * self.size + x]
    }
}

/// An SVG of `data`: one module per user unit, a `viewBox` and no `width`/`height`, so CSS
/// sizes it; `shape-rendering="crispEdges"` so no anti-aliased seams appear between
/// modules. Dark modules are one path of horizontal runs, which keeps it small.
pub fn svg(data: &str) -> Result<String, QrError> {
    let grid = Grid::encode(data)?;
    let n = grid.size;
    let mut path = String::with_capacity(n * n);
    for y in 0..n {
        let mut x = 0;
        while x < n {
            if !grid.is_dark(x, y) {
                x += 1;
                continue;
            }
            let start = x;
            while x < n && grid.is_dark(x, y) {
                x += 1;
            }
            let run = x - start;
            path.push_str(&format!("M{start} {y}h{run}v1h-{run}z"));
        }
    }
    Ok(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {n} {n}\" \
         shape-rendering=\"crispEdges\" role=\"img\" aria-label=\"Payment QR code\">\
         <path fill=\"#fff\" d=\"M0 0h{n}v{n}h-{n}z\"/>\
         <path fill=\"#000\" d=\"{path}\"/></svg>"
    ))
}

/// Which way round to draw for a terminal: the light modules are drawn as blocks on a dark
/// background, as dark blanks on a light one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Background {
    /// Most terminals: light text on a dark background.
    #[default]
    Dark,
    Light,
}

/// `data` as Unicode half blocks (two module rows per text line) for a dark-background
/// terminal, quiet zone included. Lines end with `\n`.
pub fn terminal(data: &str) -> Result<String, QrError> {
    terminal_for(data, Background::Dark)
}

/// [`terminal`] for a given terminal background.
pub fn terminal_for(data: &str, background: Background) -> Result<String, QrError> {
    let grid = Grid::encode(data)?;
    let n = grid.size;
    // What the terminal draws in its foreground colour: the light modules on a dark
    // background (so the code reads dark-on-light), the dark ones on a light background.
    let ink = |x: usize, y: usize| match background {
        Background::Dark => y < n && !grid.is_dark(x, y),
        Background::Light => grid.is_dark(x, y),
    };
    let mut out = String::with_capacity((n + 1) * n.div_ceil(2) * 3);
    for y in (0..n).step_by(2) {
        for x in 0..n {
            out.push(match (ink(x, y), ink(x, y + 1)) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://pay.crypto.com/pay/a8608fef-05bf-4a43-9d16-6c0f2235ece7";

    #[test]
    fn svg_is_sized_by_css_and_crisp() {
        let s = svg(URL).unwrap();
        assert!(s.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 "));
        assert!(s.contains("shape-rendering=\"crispEdges\""));
        let open_tag = &s[..s.find('>').unwrap()];
        assert!(!open_tag.contains("width=") && !open_tag.contains("height="));
        assert!(s.ends_with("</svg>"));
    }

    #[test]
    fn quiet_zone_surrounds_the_code() {
        let g = Grid::encode(URL).unwrap();
        for i in 0..g.size {
            for q in 0..QUIET_ZONE {
                assert!(!g.is_dark(q, i) && !g.is_dark(i, q));
                assert!(!g.is_dark(g.size - 1 - q, i) && !g.is_dark(i, g.size - 1 - q));
            }
        }
        // The finder pattern's corner sits right inside the quiet zone.
        assert!(g.is_dark(QUIET_ZONE, QUIET_ZONE));
    }

    #[test]
    fn terminal_rows_are_halved_and_square() {
        let g = Grid::encode(URL).unwrap();
        let t = terminal(URL).unwrap();
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), g.size.div_ceil(2));
        assert!(lines.iter().all(|l| l.chars().count() == g.size));
        // Dark background: the quiet zone is drawn as full blocks.
        assert!(lines[0].chars().all(|c| c == '█'));
        let light = terminal_for(URL, Background::Light).unwrap();
        assert!(light.lines().next().unwrap().chars().all(|c| c == ' '));
    }

    #[test]
    fn empty_and_oversized_input_are_refused() {
        assert_eq!(svg(""), Err(QrError::Empty));
        let huge = "x".repeat(5000);
        assert_eq!(terminal(&huge), Err(QrError::TooLong(5000)));
    }
}
