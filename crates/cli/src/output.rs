//! Where the CLI's words go: human lines, or JSON lines (one object per event, each with
//! a `"type"`) with `--json`. Every line is flushed as it is written, so a script (or a
//! test) reading stdout sees a payment id the moment it exists. On a terminal the
//! countdown rewrites one line in place; elsewhere it is a line per second.

use std::io::{IsTerminal, Write};

use serde::Serialize;

pub struct Printer {
    json: bool,
    tty: bool,
    /// A countdown line is on screen without its newline.
    open_line: bool,
}

impl Printer {
    pub fn new(json: bool) -> Printer {
        Printer {
            json,
            tty: std::io::stdout().is_terminal(),
            open_line: false,
        }
    }

    pub fn json(&self) -> bool {
        self.json
    }

    fn write(&mut self, text: &str) {
        let mut out = std::io::stdout().lock();
        // A closed stdout (`| head`) is not worth a panic or an error.
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    /// A line for people (nothing in JSON mode).
    pub fn line(&mut self, text: impl AsRef<str>) {
        if self.json {
            return;
        }
        let mut s = String::new();
        if self.open_line {
            s.push_str("\r\x1b[2K");
            self.open_line = false;
        }
        s.push_str(text.as_ref());
        s.push('\n');
        self.write(&s);
    }

    /// Several lines at once (the QR code).
    pub fn block(&mut self, text: &str) {
        for l in text.lines() {
            self.line(l);
        }
    }

    /// A line that the next one replaces on a terminal (the countdown).
    pub fn transient(&mut self, text: impl AsRef<str>) {
        if self.json {
            return;
        }
        if self.tty {
            let s = format!("\r\x1b[2K{}", text.as_ref());
            self.open_line = true;
            self.write(&s);
        } else {
            self.line(text);
        }
    }

    /// One JSON object on its own line (nothing in human mode).
    pub fn event<T: Serialize>(&mut self, value: &T) {
        if !self.json {
            return;
        }
        match serde_json::to_string(value) {
            Ok(s) => self.write(&format!("{s}\n")),
            Err(e) => tracing::error!(error = %e, "cannot encode an event"),
        }
    }

    /// Ends an open countdown line before something else (stderr) is written.
    pub fn settle(&mut self) {
        if self.open_line {
            self.write("\n");
            self.open_line = false;
        }
    }
}

/// `9:41`, `1:02:03`: what a countdown shows.
pub fn clock_text(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countdown_text_is_minutes_and_seconds() {
        assert_eq!(clock_text(0), "0:00");
        assert_eq!(clock_text(9), "0:09");
        assert_eq!(clock_text(600), "10:00");
        assert_eq!(clock_text(3723), "1:02:03");
    }
}
