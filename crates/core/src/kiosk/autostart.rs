//! "Start PayDesk at login", per platform: an XDG autostart entry on Linux, a LaunchAgent
//! on macOS, a `Run` registry value on Windows. Each is an [`Autostart`] with
//! `install()`, `remove()` and `is_installed()`; [`for_this_platform`] picks the one for
//! the machine it runs on (`cfg(target_os)`).
//!
//! All three are plain files or one `reg.exe` call, so all three compile everywhere and
//! their text is unit-tested everywhere. Only the Linux entry is tested end to end here
//! (against a temporary `XDG_CONFIG_HOME`); the macOS LaunchAgent and the Windows `Run`
//! value have not been run on their platforms (docs/operations.md says so).
//!
//! Nothing here holds a secret: the entry names the app's executable and nothing else.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The entry's name: `paydesk.desktop`, `com.paydesk.PayDesk.plist`, the `PayDesk` value.
pub const APP_ID: &str = "com.paydesk.PayDesk";
const DESKTOP_FILE: &str = "paydesk.desktop";
const RUN_KEY: &str = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Run";
const RUN_VALUE: &str = "PayDesk";

#[derive(Debug, thiserror::Error)]
pub enum AutostartError {
    #[error("cannot find the home folder (HOME is not set)")]
    NoHome,
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot remove {path}: {source}")]
    Remove {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`reg {what}` failed: {detail}")]
    Registry { what: &'static str, detail: String },
    #[error("cannot find the PayDesk app next to {0}")]
    NoApp(PathBuf),
}

/// One platform's way of starting PayDesk at login.
pub trait Autostart: Send + Sync {
    /// Writes (or rewrites) the entry.
    fn install(&self) -> Result<(), AutostartError>;
    /// Removes the entry; nothing to remove is fine.
    fn remove(&self) -> Result<(), AutostartError>;
    fn is_installed(&self) -> bool;
    /// Where the entry lives, for people (a path, a registry key).
    fn location(&self) -> String;
}

/// The autostart of the machine this runs on, starting `exe`.
pub fn for_this_platform(exe: PathBuf) -> Result<Box<dyn Autostart>, AutostartError> {
    let env = |v: &str| std::env::var_os(v);
    #[cfg(target_os = "macos")]
    {
        Ok(Box::new(LaunchAgent::from_env(exe, env)?))
    }
    #[cfg(target_os = "windows")]
    {
        let _ = env;
        Ok(Box::new(RunKey::new(exe)))
    }
    #[cfg(not(any(target_os = "macos", target_os = "windows")))]
    {
        Ok(Box::new(DesktopEntry::from_env(exe, env)?))
    }
}

/// The app's executable: `paydesk` beside the running binary (`paydesk-cli` is installed
/// next to it), else the running binary itself when it is the app.
pub fn app_executable() -> Result<PathBuf, AutostartError> {
    let me = std::env::current_exe().map_err(|_| AutostartError::NoApp(PathBuf::from(".")))?;
    let name = format!("paydesk{}", std::env::consts::EXE_SUFFIX);
    if me.file_name().is_some_and(|n| n == name.as_str()) {
        return Ok(me);
    }
    let sibling = me.with_file_name(&name);
    if sibling.is_file() {
        Ok(sibling)
    } else {
        Err(AutostartError::NoApp(me))
    }
}

/// Linux (and the BSDs): `$XDG_CONFIG_HOME/autostart/paydesk.desktop`, else
/// `~/.config/autostart/paydesk.desktop` — the XDG Autostart spec every desktop follows.
#[derive(Clone, Debug)]
pub struct DesktopEntry {
    path: PathBuf,
    exe: PathBuf,
}

impl DesktopEntry {
    /// The entry in `config_home` (`$XDG_CONFIG_HOME`).
    pub fn in_config_home(config_home: &Path, exe: PathBuf) -> DesktopEntry {
        DesktopEntry {
            path: config_home.join("autostart").join(DESKTOP_FILE),
            exe,
        }
    }

    /// The entry where this user's desktop looks, from `XDG_CONFIG_HOME` or `HOME` in `env`.
    pub fn from_env(
        exe: PathBuf,
        env: impl Fn(&str) -> Option<std::ffi::OsString>,
    ) -> Result<DesktopEntry, AutostartError> {
        let config_home = match env("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
            Some(dir) if Path::new(&dir).is_absolute() => PathBuf::from(dir),
            _ => PathBuf::from(
                env("HOME")
                    .filter(|v| !v.is_empty())
                    .ok_or(AutostartError::NoHome)?,
            )
            .join(".config"),
        };
        Ok(DesktopEntry::in_config_home(&config_home, exe))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's text.
    pub fn text(&self) -> String {
        format!(
            "[Desktop Entry]\nType=Application\nName=PayDesk\n\
             Comment=PayDesk point of sale, started at login (kiosk mode)\n\
             Exec={}\nTerminal=false\nX-GNOME-Autostart-enabled=true\n",
            desktop_exec_arg(&self.exe.to_string_lossy())
        )
    }
}

impl Autostart for DesktopEntry {
    fn install(&self) -> Result<(), AutostartError> {
        write_file(&self.path, self.text().as_bytes())
    }

    fn remove(&self) -> Result<(), AutostartError> {
        remove_file(&self.path)
    }

    fn is_installed(&self) -> bool {
        self.path.is_file()
    }

    fn location(&self) -> String {
        self.path.display().to_string()
    }
}

/// One `Exec=` argument, quoted as the Desktop Entry spec asks: in double quotes, with `"`,
/// `` ` ``, `$` and `\` escaped by a backslash, then every backslash doubled again (the
/// value's own escaping) and `%` written `%%` (field codes).
fn desktop_exec_arg(arg: &str) -> String {
    let mut quoted = String::from("\"");
    for c in arg.chars() {
        match c {
            '"' | '`' | '$' => {
                quoted.push_str("\\\\");
                quoted.push(c);
            }
            '\\' => quoted.push_str("\\\\\\\\"),
            '%' => quoted.push_str("%%"),
            '\n' | '\r' => quoted.push(' '),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// macOS: `~/Library/LaunchAgents/com.paydesk.PayDesk.plist`, which launchd runs at the
/// user's next login (`RunAtLoad`, GUI sessions only).
#[derive(Clone, Debug)]
pub struct LaunchAgent {
    path: PathBuf,
    exe: PathBuf,
}

impl LaunchAgent {
    /// The agent in `home`'s `Library/LaunchAgents`.
    pub fn in_home(home: &Path, exe: PathBuf) -> LaunchAgent {
        LaunchAgent {
            path: home
                .join("Library")
                .join("LaunchAgents")
                .join(format!("{APP_ID}.plist")),
            exe,
        }
    }

    pub fn from_env(
        exe: PathBuf,
        env: impl Fn(&str) -> Option<std::ffi::OsString>,
    ) -> Result<LaunchAgent, AutostartError> {
        let home = env("HOME")
            .filter(|v| !v.is_empty())
            .ok_or(AutostartError::NoHome)?;
        Ok(LaunchAgent::in_home(Path::new(&home), exe))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The property list's text.
    pub fn text(&self) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \
             \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n\
             <plist version=\"1.0\">\n<dict>\n\
             \t<key>Label</key>\n\t<string>{APP_ID}</string>\n\
             \t<key>ProgramArguments</key>\n\t<array>\n\t\t<string>{}</string>\n\t</array>\n\
             \t<key>RunAtLoad</key>\n\t<true/>\n\
             \t<key>LimitLoadToSessionType</key>\n\t<string>Aqua</string>\n\
             </dict>\n</plist>\n",
            xml_text(&self.exe.to_string_lossy())
        )
    }
}

impl Autostart for LaunchAgent {
    fn install(&self) -> Result<(), AutostartError> {
        write_file(&self.path, self.text().as_bytes())
    }

    fn remove(&self) -> Result<(), AutostartError> {
        remove_file(&self.path)
    }

    fn is_installed(&self) -> bool {
        self.path.is_file()
    }

    fn location(&self) -> String {
        self.path.display().to_string()
    }
}

fn xml_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Windows: the `PayDesk` value under `HKCU\Software\Microsoft\Windows\CurrentVersion\Run`,
/// set and read with the system's `reg.exe` (no registry crate for three calls).
#[derive(Clone, Debug)]
pub struct RunKey {
    exe: PathBuf,
}

impl RunKey {
    pub fn new(exe: PathBuf) -> RunKey {
        RunKey { exe }
    }

    /// The value's data: the executable, quoted (paths have spaces).
    pub fn data(&self) -> String {
        format!("\"{}\"", self.exe.display())
    }

    /// `reg.exe`'s arguments for `add`, `delete` or `query`.
    pub fn args(&self, what: &str) -> Vec<String> {
        let mut args = vec![
            what.to_owned(),
            RUN_KEY.to_owned(),
            "/v".into(),
            RUN_VALUE.into(),
        ];
        match what {
            "add" => args.extend([
                "/t".into(),
                "REG_SZ".into(),
                "/d".into(),
                self.data(),
                "/f".into(),
            ]),
            "delete" => args.push("/f".into()),
            _ => {}
        }
        args
    }

    fn reg(&self, what: &'static str) -> Result<(), AutostartError> {
        let out = Command::new("reg")
            .args(self.args(what))
            .output()
            .map_err(|e| AutostartError::Registry {
                what,
                detail: e.to_string(),
            })?;
        if out.status.success() {
            Ok(())
        } else {
            Err(AutostartError::Registry {
                what,
                detail: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            })
        }
    }
}

impl Autostart for RunKey {
    fn install(&self) -> Result<(), AutostartError> {
        self.reg("add")
    }

    fn remove(&self) -> Result<(), AutostartError> {
        if self.is_installed() {
            self.reg("delete")
        } else {
            Ok(())
        }
    }

    fn is_installed(&self) -> bool {
        self.reg("query").is_ok()
    }

    fn location(&self) -> String {
        format!(r"{RUN_KEY}\{RUN_VALUE}")
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), AutostartError> {
    crate::config::write_atomically(path, bytes).map_err(|source| AutostartError::Write {
        path: path.to_owned(),
        source,
    })
}

fn remove_file(path: &Path) -> Result<(), AutostartError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(AutostartError::Remove {
            path: path.to_owned(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_arguments_are_quoted_as_the_desktop_entry_spec_asks() {
        assert_eq!(desktop_exec_arg("/usr/bin/paydesk"), "\"/usr/bin/paydesk\"");
        assert_eq!(
            desktop_exec_arg("/opt/Pay Desk/$bin/100%"),
            "\"/opt/Pay Desk/\\\\$bin/100%%\""
        );
        assert_eq!(desktop_exec_arg("a\\b"), "\"a\\\\\\\\b\"");
    }

    #[test]
    fn the_launch_agent_runs_the_app_at_login() {
        let agent = LaunchAgent::in_home(
            Path::new("/Users/till"),
            PathBuf::from("/Applications/PayDesk.app/Contents/MacOS/paydesk"),
        );
        assert_eq!(
            agent.path(),
            Path::new("/Users/till/Library/LaunchAgents/com.paydesk.PayDesk.plist")
        );
        let text = agent.text();
        assert!(text.contains("<key>RunAtLoad</key>\n\t<true/>"), "{text}");
        assert!(text.contains("<string>/Applications/PayDesk.app/Contents/MacOS/paydesk</string>"));
        let odd = LaunchAgent::in_home(Path::new("/h"), PathBuf::from("/A&B/<x>"));
        assert!(odd.text().contains("<string>/A&amp;B/&lt;x&gt;</string>"));
    }

    #[test]
    fn the_run_value_quotes_the_path() {
        let key = RunKey::new(PathBuf::from(r"C:\Program Files\PayDesk\paydesk.exe"));
        assert_eq!(
            key.args("add"),
            vec![
                "add",
                RUN_KEY,
                "/v",
                "PayDesk",
                "/t",
                "REG_SZ",
                "/d",
                r#""C:\Program Files\PayDesk\paydesk.exe""#,
                "/f"
            ]
        );
        assert_eq!(key.args("query"), vec!["query", RUN_KEY, "/v", "PayDesk"]);
    }

    #[test]
    fn xdg_config_home_wins_over_home_and_must_be_absolute() {
        let exe = PathBuf::from("/usr/bin/paydesk");
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| std::ffi::OsString::from(v))
            }
        };
        let e = DesktopEntry::from_env(
            exe.clone(),
            env(&[("XDG_CONFIG_HOME", "/x"), ("HOME", "/h")]),
        )
        .unwrap();
        assert_eq!(e.path(), Path::new("/x/autostart/paydesk.desktop"));
        let e = DesktopEntry::from_env(
            exe.clone(),
            env(&[("XDG_CONFIG_HOME", "rel"), ("HOME", "/h")]),
        )
        .unwrap();
        assert_eq!(e.path(), Path::new("/h/.config/autostart/paydesk.desktop"));
        assert!(matches!(
            DesktopEntry::from_env(exe, env(&[])),
            Err(AutostartError::NoHome)
        ));
    }
}
