//! Kiosk mode: a till that is nothing but PayDesk — full screen, one instance, started at
//! login, its window not closable while a payment is pending, the customer display on the
//! monitor the installer picked.
//!
//! Place in the flow: the settings (`kiosk`, `customer_display`, from the config file, a
//! provisioning file or `PAYDESK_KIOSK`) become one [`KioskSettings`] the app reads at
//! start; full screen and the single instance are the app's own (Tauri) business. What
//! needs the operating system lives here: [`autostart`] writes and removes the "start at
//! login" entry on each platform, and [`pick_display`] chooses the customer's monitor
//! with its fallback, so both can be tested without a window.

pub mod autostart;

use serde::Serialize;

use crate::config::Config;

/// What the app needs to know about kiosk mode, in one value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KioskSettings {
    /// Full screen, one instance, no closing while a payment is pending.
    pub enabled: bool,
    /// Whether PayDesk starts at login on this machine (the autostart entry exists).
    pub starts_at_login: bool,
    /// The monitor the installer picked for the customer display, if any.
    pub customer_display: Option<String>,
}

impl KioskSettings {
    /// From the merged settings and this machine's autostart entry.
    pub fn of(config: &Config, autostart: &dyn autostart::Autostart) -> KioskSettings {
        KioskSettings {
            enabled: config.kiosk,
            starts_at_login: autostart.is_installed(),
            customer_display: config.customer_display.clone(),
        }
    }
}

/// Brings the autostart entry in line with the `kiosk` setting: installed when it is on,
/// removed when it is off. Returns whether PayDesk now starts at login.
pub fn apply(
    enabled: bool,
    autostart: &dyn autostart::Autostart,
) -> Result<bool, autostart::AutostartError> {
    if enabled {
        autostart.install()?;
    } else {
        autostart.remove()?;
    }
    Ok(enabled)
}

/// A monitor as the app sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Monitor {
    pub name: String,
    pub primary: bool,
}

/// Which monitor the customer display goes to: the one the installer picked while it is
/// connected; else the first that is not the cashier's (primary) one; else the primary
/// (a till with one screen shows both there). `None` only when there is no monitor.
pub fn pick_display(remembered: Option<&str>, monitors: &[Monitor]) -> Option<usize> {
    remembered
        .and_then(|name| monitors.iter().position(|m| m.name == name))
        .or_else(|| monitors.iter().position(|m| !m.primary))
        .or_else(|| monitors.iter().position(|m| m.primary))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn monitors(list: &[(&str, bool)]) -> Vec<Monitor> {
        list.iter()
            .map(|(n, p)| Monitor {
                name: (*n).to_owned(),
                primary: *p,
            })
            .collect()
    }

    #[test]
    fn the_remembered_monitor_wins_while_it_is_connected() {
        let m = monitors(&[("DP-1", true), ("HDMI-1", false), ("HDMI-2", false)]);
        assert_eq!(pick_display(Some("HDMI-2"), &m), Some(2));
    }

    #[test]
    fn a_gone_monitor_falls_back_to_a_secondary_then_the_primary() {
        let m = monitors(&[("DP-1", true), ("HDMI-1", false)]);
        assert_eq!(pick_display(Some("HDMI-9"), &m), Some(1));
        assert_eq!(pick_display(None, &m), Some(1));
        let one = monitors(&[("eDP-1", true)]);
        assert_eq!(pick_display(Some("HDMI-1"), &one), Some(0));
        let unknown_primary = monitors(&[("A", false)]);
        assert_eq!(pick_display(None, &unknown_primary), Some(0));
        assert_eq!(pick_display(Some("x"), &[]), None);
    }
}
