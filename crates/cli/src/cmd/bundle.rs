//! The support bundle (`doctor --bundle FILE`): one `.tar.gz` a till owner can send to
//! support, holding everything needed to understand a broken till and no key.
//!
//! Contents, under `paydesk-support/`: `versions.txt` (PayDesk, OS, architecture),
//! `config.txt` (the effective settings and where each key comes from — never the key),
//! `doctor.txt` and `doctor.json` (the check table), `journal.txt` (the journal's shape:
//! schema, pending payments, unresolved charges), `staff.txt` (who is on the staff, their
//! roles and lockouts, and the last lines of the audit trail — never a PIN or a hash) and
//! `logs/` (the last 500 lines of the newest log files).
//!
//! Keys never belong in any of these, but logs are written by many hands: every file is
//! redacted on the way in — the keys this till knows, and anything shaped like a PayDesk
//! or Crypto.com Pay secret — and the finished bundle is checked once more.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use flate2::write::GzEncoder;
use flate2::Compression;
use paydesk_core::doctor::Report;
use paydesk_core::secrets::Secret;

use crate::context::Context;

/// Lines kept from the end of each log file.
pub const LOG_LINES: usize = 500;
/// Log files taken, newest first.
const LOG_FILES: usize = 6;
/// The folder inside the archive.
const ROOT: &str = "paydesk-support";
/// What secrets look like: Crypto.com Pay secret keys, webhook secrets, terminal keys.
const SECRET_PREFIXES: &[&str] = &["sk_live_", "sk_test_", "whsec_", "pdk_"];
const REDACTED: &str = "[redacted]";

/// Replaces every known secret and every secret-shaped token in `text`.
pub fn redact(text: &str, secrets: &[Secret]) -> String {
    let mut out = text.to_owned();
    for s in secrets {
        // A very short "key" would redact half the file; such a key is refused elsewhere.
        if s.expose().len() >= 6 {
            out = out.replace(s.expose(), REDACTED);
        }
    }
    for prefix in SECRET_PREFIXES {
        let mut result = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(at) = rest.find(prefix) {
            let (before, from) = rest.split_at(at);
            result.push_str(before);
            let body = &from[prefix.len()..];
            let len = body
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                .unwrap_or(body.len());
            result.push_str(prefix);
            if len > 0 && !body[..len].starts_with(REDACTED) {
                result.push_str(REDACTED);
            }
            rest = &body[len..];
        }
        result.push_str(rest);
        out = result;
    }
    out
}

fn versions() -> String {
    let mut s = format!(
        "paydesk-cli {}\nos {} ({})\narch {}\n",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::FAMILY,
        std::env::consts::ARCH,
    );
    if let Ok(release) = fs::read_to_string("/etc/os-release") {
        if let Some(name) = release.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=")) {
            s.push_str(&format!("distribution {}\n", name.trim_matches('"')));
        }
    }
    if let Ok(kernel) = fs::read_to_string("/proc/sys/kernel/osrelease") {
        s.push_str(&format!("kernel {}\n", kernel.trim()));
    }
    s.push_str(&format!(
        "bundle written {}\n",
        chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC")
    ));
    s
}

fn settings(ctx: &Context) -> String {
    let c = &ctx.config;
    let mut s = String::new();
    s.push_str(&format!("config file: {}\n", c.path.display()));
    s.push_str(&format!(
        "mode: {}\n",
        c.mode
            .map_or("(from the key)".to_owned(), |m| m.to_string())
    ));
    s.push_str(&format!("terminal_name: {}\n", c.terminal_name));
    s.push_str(&format!(
        "default_currency: {}\n",
        c.default_currency.code()
    ));
    s.push_str(&format!("api_url: {}\n", c.api_url));
    s.push_str(&format!(
        "relay_url: {}\n",
        c.relay_url.as_deref().unwrap_or("(none)")
    ));
    s.push_str(&format!(
        "merchant: {}\n",
        c.merchant.as_deref().unwrap_or("(none)")
    ));
    if let Some(t) = c.heartbeat_timeout {
        s.push_str(&format!("heartbeat_timeout_secs: {}\n", t.as_secs()));
    }
    if let Some(t) = c.poll_interval {
        s.push_str(&format!("poll_interval_secs: {}\n", t.as_secs()));
    }
    s.push_str(&format!("kiosk: {}\n", c.kiosk));
    s.push_str(&format!(
        "lock_after_secs: {}\n",
        c.lock_after.map_or(0, |d| d.as_secs())
    ));
    if let Some(d) = &c.customer_display {
        s.push_str(&format!("customer_display: {d}\n"));
    }
    s.push_str(&format!("secret key: {}\n", ctx.secret_key.describe()));
    s.push_str(&format!("terminal key: {}\n", ctx.terminal_key.describe()));
    s.push_str(&format!("journal: {}\n", ctx.journal_path.display()));
    let mut names: Vec<String> = std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .filter(|k| k.starts_with("PAYDESK_"))
        .collect();
    names.sort();
    s.push_str(&format!(
        "PAYDESK_* variables set (names only): {}\n",
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    ));
    s
}

fn journal_summary(ctx: &Context) -> String {
    let mut s = format!("path: {}\n", ctx.journal_path.display());
    if !ctx.journal_path.exists() {
        s.push_str("not created yet\n");
        return s;
    }
    match ctx.open_journal() {
        Err(e) => s.push_str(&format!("cannot open: {e:#}\n")),
        Ok(j) => {
            match j.schema_version() {
                Ok(v) => s.push_str(&format!("schema: {v}\n")),
                Err(e) => s.push_str(&format!("schema: unreadable ({e})\n")),
            }
            match j.pending() {
                Ok(p) => {
                    s.push_str(&format!("pending payments: {}\n", p.len()));
                    for p in p {
                        s.push_str(&format!("  {} {} {}\n", p.id, p.amount, p.currency));
                    }
                }
                Err(e) => s.push_str(&format!("pending payments: unreadable ({e})\n")),
            }
            match j.unresolved_intents() {
                Ok(i) => s.push_str(&format!("charges awaiting reconciliation: {}\n", i.len())),
                Err(e) => s.push_str(&format!(
                    "charges awaiting reconciliation: unreadable ({e})\n"
                )),
            }
        }
    }
    s
}

/// Audit lines taken from the end of the staff file's trail.
const AUDIT_LINES: usize = 200;

/// The staff as support needs them: people, roles, lockouts, and the recent audit trail.
/// Names and facts only; the file has no column that could hold a PIN.
fn staff_summary(ctx: &Context) -> String {
    let dir = ctx.plan.data_dir();
    let path = dir.join(paydesk_core::staff::StaffStore::FILE_NAME);
    let mut s = format!("path: {}\n", path.display());
    if !path.exists() {
        s.push_str("not created yet (no staff: every action is unattended)\n");
        return s;
    }
    let store = match paydesk_core::staff::StaffStore::open(&path, Default::default()) {
        Ok(store) => store,
        Err(e) => {
            s.push_str(&format!("cannot open: {e}\n"));
            return s;
        }
    };
    match store.list() {
        Ok(people) if people.is_empty() => {
            s.push_str("people: none (every action is unattended)\n");
        }
        Ok(people) => {
            s.push_str(&format!("people: {}\n", people.len()));
            for p in people {
                let lock = p
                    .locked_until
                    .map(|t| format!(" (locked out until {})", t.to_rfc3339()))
                    .unwrap_or_default();
                s.push_str(&format!("  {} {} {}{lock}\n", p.id, p.role, p.name));
            }
        }
        Err(e) => s.push_str(&format!("people: unreadable ({e})\n")),
    }
    match store.audit_after(0, usize::MAX) {
        Ok(lines) => {
            let skip = lines.len().saturating_sub(AUDIT_LINES);
            s.push_str(&format!("audit trail (last {AUDIT_LINES} lines):\n"));
            for e in lines.into_iter().skip(skip) {
                s.push_str(&format!(
                    "  {} {} {}{}{}{}{}\n",
                    e.at.to_rfc3339(),
                    e.kind.as_str(),
                    e.action.map(|a| a.as_str()).unwrap_or("-"),
                    e.person
                        .map(|p| format!(" by {}", p.name))
                        .unwrap_or_default(),
                    e.approver
                        .map(|p| format!(" approved by {}", p.name))
                        .unwrap_or_default(),
                    e.subject.map(|x| format!(" on {x}")).unwrap_or_default(),
                    e.detail.map(|x| format!(" ({x})")).unwrap_or_default(),
                ));
            }
        }
        Err(e) => s.push_str(&format!("audit trail: unreadable ({e})\n")),
    }
    s
}

/// The newest `*.log*` files in `dir`, newest first.
fn newest_logs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| e.file_name().to_string_lossy().contains(".log"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    files.sort_by_key(|f| std::cmp::Reverse(f.0));
    files.into_iter().take(LOG_FILES).map(|(_, p)| p).collect()
}

/// The last `n` lines of a file, read leniently (a log may hold invalid UTF-8).
fn tail(path: &Path, n: usize) -> Result<String> {
    let bytes = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n);
    let mut out = lines[start..].join("\n");
    out.push('\n');
    Ok(out)
}

/// Writes the bundle to `path`; returns the names of the files in it.
pub fn write(path: &Path, ctx: &Context, report: &Report) -> Result<Vec<String>> {
    let secrets = ctx.known_secrets();
    let mut files: Vec<(String, String)> = vec![
        ("versions.txt".into(), versions()),
        ("config.txt".into(), settings(ctx)),
        ("doctor.txt".into(), report.table()),
        (
            "doctor.json".into(),
            serde_json::to_string_pretty(report).context("cannot encode the doctor report")?,
        ),
        ("journal.txt".into(), journal_summary(ctx)),
        ("staff.txt".into(), staff_summary(ctx)),
    ];
    if let Some(dir) = paydesk_core::logging::default_log_dir() {
        for log in newest_logs(&dir) {
            let name = log
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "log".into());
            match tail(&log, LOG_LINES) {
                Ok(text) => files.push((format!("logs/{name}"), text)),
                Err(e) => files.push((format!("logs/{name}.error.txt"), format!("{e:#}\n"))),
            }
        }
    }
    let files: Vec<(String, String)> = files
        .into_iter()
        .map(|(name, text)| (name, redact(&text, &secrets)))
        .collect();
    // Belt and braces: nothing leaves with a key in it.
    for (name, text) in &files {
        if secrets
            .iter()
            .any(|s| !s.is_empty() && text.contains(s.expose()))
        {
            bail!("refusing to write the bundle: {name} still holds a key");
        }
    }
    write_archive(path, &files).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(files.into_iter().map(|(n, _)| n).collect())
}

fn write_archive(path: &Path, files: &[(String, String)]) -> std::io::Result<()> {
    let tmp = path.with_extension("partial");
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(&tmp)?;
    let mut archive = tar::Builder::new(GzEncoder::new(file, Compression::default()));
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0);
    for (name, text) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o600);
        header.set_mtime(now);
        header.set_cksum();
        archive.append_data(&mut header, format!("{ROOT}/{name}"), text.as_bytes())?;
    }
    let gz = archive.into_inner()?;
    let mut file = gz.finish()?;
    file.flush()?;
    file.sync_all()?;
    fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_keys_and_secret_shaped_tokens_are_redacted() {
        let known = [Secret::new("custom-terminal-secret-123")];
        let text = "auth sk_live_abc123XYZ, key custom-terminal-secret-123; pdk_Zm9v-bar_ok\n\
                    webhook whsec_1 and sk_test_ at the end: sk_test_q";
        let r = redact(text, &known);
        assert!(!r.contains("abc123XYZ"), "{r}");
        assert!(!r.contains("custom-terminal-secret-123"), "{r}");
        assert!(!r.contains("Zm9v"), "{r}");
        assert!(!r.contains("whsec_1"), "{r}");
        assert!(r.contains("sk_live_[redacted],"), "{r}");
        assert!(r.ends_with("sk_test_[redacted]"), "{r}");
        // Redacting twice changes nothing.
        assert_eq!(redact(&r, &known), r);
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        let text: String = (0..1200).map(|i| format!("line {i}\n")).collect();
        fs::write(&p, text).unwrap();
        let t = tail(&p, LOG_LINES).unwrap();
        assert_eq!(t.lines().count(), LOG_LINES);
        assert!(t.starts_with("line 700\n") && t.ends_with("line 1199\n"));
    }
}
