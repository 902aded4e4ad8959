//! Kiosk mode's "start at login" on this machine's platform, against a temporary config
//! folder: the XDG autostart entry on Linux (the one platform this suite runs on; the
//! macOS LaunchAgent and the Windows Run value are only unit-tested for their text).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsString;
use std::path::PathBuf;

use paydesk_core::config::{Config, ConfigLayer};
use paydesk_core::kiosk::{self, autostart, KioskSettings};

fn env(config_home: PathBuf) -> impl Fn(&str) -> Option<OsString> {
    move |v| match v {
        "XDG_CONFIG_HOME" => Some(config_home.clone().into_os_string()),
        "HOME" => Some(OsString::from("/nonexistent-home")),
        _ => None,
    }
}

#[test]
fn kiosk_on_installs_the_autostart_entry_and_off_removes_it() {
    let dir = tempfile::tempdir().unwrap();
    let exe = PathBuf::from("/opt/Pay Desk/paydesk");
    let entry = autostart::DesktopEntry::from_env(exe, env(dir.path().to_owned())).unwrap();
    assert_eq!(
        entry.path(),
        dir.path().join("autostart").join("paydesk.desktop")
    );
    assert!(!autostart::Autostart::is_installed(&entry));

    assert!(kiosk::apply(true, &entry).unwrap());
    let text = std::fs::read_to_string(entry.path()).unwrap();
    assert!(text.starts_with("[Desktop Entry]\n"), "{text}");
    assert!(text.contains("\nType=Application\n"), "{text}");
    assert!(
        text.contains("\nExec=\"/opt/Pay Desk/paydesk\"\n"),
        "{text}"
    );
    // Installing twice rewrites the one entry; no temp files are left behind.
    kiosk::apply(true, &entry).unwrap();
    let names: Vec<_> = std::fs::read_dir(dir.path().join("autostart"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![OsString::from("paydesk.desktop")]);

    let config = Config::from_layer(
        ConfigLayer {
            kiosk: Some(true),
            customer_display: Some("HDMI-1".into()),
            ..ConfigLayer::default()
        },
        dir.path(),
    )
    .unwrap();
    assert_eq!(
        KioskSettings::of(&config, &entry),
        KioskSettings {
            enabled: true,
            starts_at_login: true,
            customer_display: Some("HDMI-1".into()),
        }
    );

    assert!(!kiosk::apply(false, &entry).unwrap());
    assert!(!entry.path().exists());
    // Removing what is not there is fine.
    kiosk::apply(false, &entry).unwrap();
}

#[cfg(target_os = "linux")]
#[test]
fn this_platforms_autostart_is_the_xdg_entry() {
    let exe = PathBuf::from("/usr/bin/paydesk");
    let entry = autostart::for_this_platform(exe).unwrap();
    assert!(
        entry.location().ends_with("autostart/paydesk.desktop"),
        "{}",
        entry.location()
    );
}
