//! The packages as a store installer gets them: `scripts/test.sh` builds both `.deb`s,
//! installs the app's, and runs these with `PAYDESK_APP_DEB` and `PAYDESK_RELAY_DEB` naming
//! the files. They check what `dpkg` and the docs promise: the package is called `paydesk`,
//! its dependencies are listed once, both carry a copyright file, and every port and path
//! the relay's docs name is the one its packaged config and systemd unit use. Ignored in a
//! plain `cargo test` (they need the packages built first).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, ensure, Context, Result};

fn deb(var: &str) -> Result<PathBuf> {
    let path = std::env::var_os(var).with_context(|| format!("{var} is not set"))?;
    let path = PathBuf::from(path);
    ensure!(path.is_file(), "{} does not exist", path.display());
    Ok(path)
}

fn run(cmd: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .with_context(|| format!("cannot run {cmd}"))?;
    if !out.status.success() {
        bail!(
            "{cmd} {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn field(deb: &Path, name: &str) -> Result<String> {
    let path = deb.to_string_lossy();
    Ok(run("dpkg-deb", &["-f", &path, name])?.trim().to_owned())
}

/// The contents of one file inside a `.deb`.
fn file_in(deb: &Path, inside: &str) -> Result<String> {
    let dir = tempfile::tempdir()?;
    run(
        "dpkg-deb",
        &["-x", &deb.to_string_lossy(), &dir.path().to_string_lossy()],
    )?;
    std::fs::read_to_string(dir.path().join(inside.trim_start_matches('/')))
        .with_context(|| format!("{inside} is not in {}", deb.display()))
}

fn repo_file(rel: &str) -> Result<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::read_to_string(root.join(rel)).with_context(|| format!("cannot read {rel}"))
}

#[test]
#[ignore = "run by scripts/test.sh after building the packages"]
fn the_app_package_is_called_paydesk_lists_each_dependency_once_and_has_a_copyright() -> Result<()>
{
    let app = deb("PAYDESK_APP_DEB")?;
    assert_eq!(field(&app, "Package")?, "paydesk");
    let depends = field(&app, "Depends")?;
    let names: Vec<&str> = depends
        .split(',')
        .map(|d| d.split_whitespace().next().unwrap_or(""))
        .collect();
    let mut unique = names.clone();
    unique.sort_unstable();
    unique.dedup();
    ensure!(
        unique.len() == names.len(),
        "a dependency is listed twice: {depends}"
    );
    ensure!(depends.contains("libwebkit2gtk-4.1"), "{depends}");
    let copyright = file_in(&app, "/usr/share/doc/paydesk/copyright")?;
    ensure!(copyright.starts_with("Format: "), "{copyright:.80}");
    // Installed by the test command: dpkg knows it by that name.
    let status = run("dpkg-query", &["-W", "-f=${Status} ${Version}", "paydesk"])?;
    ensure!(status.starts_with("install ok installed"), "{status}");
    Ok(())
}

#[test]
#[ignore = "run by scripts/test.sh after building the packages"]
fn the_relay_docs_name_the_port_and_paths_its_package_uses() -> Result<()> {
    let relay = deb("PAYDESK_RELAY_DEB")?;
    assert_eq!(field(&relay, "Package")?, "paydesk-relay");
    file_in(&relay, "/usr/share/doc/paydesk-relay/copyright")?;
    let config = file_in(&relay, "/etc/paydesk-relay/relay.toml")?;
    let parsed: toml::Table = config.parse().context("the packaged relay.toml")?;
    let listen = parsed
        .get("listen")
        .and_then(|v| v.as_str())
        .context("the packaged config names no listen address")?;
    let port = listen.rsplit(':').next().unwrap_or("");
    let terminals = parsed
        .get("terminals_file")
        .and_then(|v| v.as_str())
        .context("the packaged config names no terminals file")?;
    let unit = file_in(&relay, "/lib/systemd/system/paydesk-relay.service")
        .or_else(|_| file_in(&relay, "/usr/lib/systemd/system/paydesk-relay.service"))?;
    ensure!(
        unit.contains("--config /etc/paydesk-relay/relay.toml"),
        "the unit reads another config: {unit}"
    );
    ensure!(
        unit.contains("EnvironmentFile=-/etc/paydesk-relay/env"),
        "{unit}"
    );
    for doc in ["docs/relay.md", "docs/operations.md"] {
        let text = repo_file(doc)?;
        // Every relay address the docs give is the packaged one.
        for (i, _) in text.match_indices("127.0.0.1:") {
            let rest = &text[i + "127.0.0.1:".len()..];
            let p: String = rest.chars().take_while(char::is_ascii_digit).collect();
            // Port 0 is a code example's "any free port".
            ensure!(
                p == port || p == "0",
                "{doc} names port {p}; the package listens on {port}"
            );
        }
        ensure!(
            !text.contains("/etc/paydesk-relay.toml") && !text.contains("/etc/paydesk-relay.env"),
            "{doc} names a config path the package does not use"
        );
        ensure!(
            text.contains(terminals),
            "{doc} does not name the terminals file {terminals}"
        );
        // The secret is never echoed through a pipe onto the screen.
        ensure!(
            !text.contains("| sudo tee"),
            "{doc} pipes a secret through tee"
        );
    }
    Ok(())
}
