//! Where a receipt goes: the printer address from settings, parsed once with clear errors.
//!
//! | Setting | Target |
//! | --- | --- |
//! | `tcp://192.168.1.50` or `tcp://printer.local:9100` | network printer, raw port (default 9100) |
//! | `/dev/usb/lp0` or `file:///dev/usb/lp0` | a device file (USB printer class) or any file |
//! | `serial:///dev/ttyUSB0?baud=19200&flow=rtscts` | a serial port, 8N1 (default 9600 baud, no flow control) |
//! | `lp://receipts`, `cups://receipts` | the OS print queue in raw mode (`lp://` alone: the default queue) |
//! | `winspool://EPSON%20TM-T20III` | the same, spelt the Windows way (any of the three works on any OS) |
//!
//! An address never carries a password: `user@host` is refused.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use percent_encoding::percent_decode_str;

/// The raw-printing port of every network receipt printer ("JetDirect").
pub const DEFAULT_TCP_PORT: u16 = 9100;
pub const DEFAULT_BAUD: u32 = 9600;
const BAUDS: &[u32] = &[
    1200, 2400, 4800, 9600, 19200, 38400, 57600, 115_200, 230_400,
];

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Tcp {
        host: String,
        port: u16,
    },
    Device {
        path: PathBuf,
    },
    Serial {
        path: PathBuf,
        baud: u32,
        flow: FlowControl,
    },
    /// The operating system's print queue; `None` is its default queue.
    Queue {
        name: Option<String>,
    },
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FlowControl {
    #[default]
    None,
    /// RTS/CTS: most serial receipt printers' factory setting besides none.
    Hardware,
    /// XON/XOFF.
    Software,
}

/// Why a printer address was refused; each message says what a valid one looks like.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("no printer address: use tcp://host:9100, /dev/usb/lp0, serial:///dev/ttyUSB0?baud=19200 or lp://queue")]
    Empty,
    #[error("'{0}' is not a printer address: use tcp://host:9100, /dev/usb/lp0, serial:///dev/ttyUSB0?baud=19200 or lp://queue")]
    NotAnAddress(String),
    #[error(
        "unknown printer address scheme '{0}://': use tcp, file, serial, lp, cups or winspool"
    )]
    UnknownScheme(String),
    #[error("the printer address needs a host: tcp://192.168.1.50:9100")]
    MissingHost,
    #[error("'{0}' is not a port number (1-65535)")]
    BadPort(String),
    #[error("a printer address carries no user name or password")]
    Credentials,
    #[error("'{0}' is not a usable host name")]
    BadHost(String),
    #[error("the device path must be absolute: file:///dev/usb/lp0 or serial:///dev/ttyUSB0")]
    RelativePath,
    #[error("'{0}' is not a serial speed: use one of 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400")]
    BadBaud(String),
    #[error("'{0}' is not a flow control: use none, rtscts or xonxoff")]
    BadFlow(String),
    #[error("unknown option '{0}' in the printer address")]
    UnknownOption(String),
    #[error("'{0}' is not a print queue name")]
    BadQueue(String),
}

impl FromStr for Target {
    type Err = TargetError;

    fn from_str(s: &str) -> Result<Target, TargetError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(TargetError::Empty);
        }
        if s.starts_with('/') {
            return Ok(Target::Device { path: s.into() });
        }
        let Some((scheme, rest)) = s.split_once("://") else {
            return Err(TargetError::NotAnAddress(s.to_owned()));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "tcp" => tcp(rest),
            "file" => {
                let path = decode(rest)?;
                if !path.starts_with('/') {
                    return Err(TargetError::RelativePath);
                }
                Ok(Target::Device { path: path.into() })
            }
            "serial" => serial(rest),
            "lp" | "cups" | "winspool" => queue(rest),
            other => Err(TargetError::UnknownScheme(other.to_owned())),
        }
    }
}

fn tcp(rest: &str) -> Result<Target, TargetError> {
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains('@') {
        return Err(TargetError::Credentials);
    }
    if authority.contains(['/', '?', '#']) {
        return Err(TargetError::BadHost(authority.to_owned()));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| TargetError::BadHost(authority.to_owned()))?;
        match after {
            "" => (host, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err(TargetError::BadHost(authority.to_owned())),
            },
        }
    } else if authority.matches(':').count() > 1 {
        // An IPv6 address needs brackets to tell it from its port: tcp://[fe80::1]:9100.
        return Err(TargetError::BadHost(authority.to_owned()));
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(TargetError::MissingHost);
    }
    if host.contains(|c: char| c.is_whitespace() || c.is_control() || c == ':') && !is_v6(host) {
        return Err(TargetError::BadHost(host.to_owned()));
    }
    let port = match port {
        None => DEFAULT_TCP_PORT,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|&p| p != 0)
            .ok_or_else(|| TargetError::BadPort(p.to_owned()))?,
    };
    Ok(Target::Tcp {
        host: host.to_owned(),
        port,
    })
}

fn is_v6(host: &str) -> bool {
    host.parse::<std::net::Ipv6Addr>().is_ok()
}

fn serial(rest: &str) -> Result<Target, TargetError> {
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let path = decode(path)?;
    if !path.starts_with('/') {
        return Err(TargetError::RelativePath);
    }
    let mut baud = DEFAULT_BAUD;
    let mut flow = FlowControl::None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "baud" => {
                baud = value
                    .parse()
                    .ok()
                    .filter(|b| BAUDS.contains(b))
                    .ok_or_else(|| TargetError::BadBaud(value.to_owned()))?;
            }
            "flow" => {
                flow = match value {
                    "none" => FlowControl::None,
                    "rtscts" | "hardware" => FlowControl::Hardware,
                    "xonxoff" | "software" => FlowControl::Software,
                    _ => return Err(TargetError::BadFlow(value.to_owned())),
                };
            }
            _ => return Err(TargetError::UnknownOption(key.to_owned())),
        }
    }
    Ok(Target::Serial {
        path: path.into(),
        baud,
        flow,
    })
}

fn queue(rest: &str) -> Result<Target, TargetError> {
    let name = decode(rest.strip_suffix('/').unwrap_or(rest))?;
    if name.is_empty() {
        return Ok(Target::Queue { name: None });
    }
    // Windows names may hold spaces and `\\server\printer`; a leading '-' would read as an
    // option to `lp`.
    if name.starts_with('-') || name.chars().any(char::is_control) {
        return Err(TargetError::BadQueue(name));
    }
    Ok(Target::Queue { name: Some(name) })
}

fn decode(s: &str) -> Result<String, TargetError> {
    percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| TargetError::NotAnAddress(s.to_owned()))
}

impl Target {
    /// How a cashier's message names the printer.
    pub fn describe(&self) -> String {
        match self {
            Target::Tcp { host, port } if is_v6(host) => format!("Printer at [{host}]:{port}"),
            Target::Tcp { host, port } => format!("Printer at {host}:{port}"),
            Target::Device { path } | Target::Serial { path, .. } => {
                format!("Printer on {}", path.display())
            }
            Target::Queue { name: Some(name) } => format!("Print queue '{name}'"),
            Target::Queue { name: None } => "The default print queue".to_owned(),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Tcp { host, port } if is_v6(host) => write!(f, "tcp://[{host}]:{port}"),
            Target::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
            Target::Device { path } => write!(f, "{}", path.display()),
            Target::Serial { path, baud, flow } => {
                write!(f, "serial://{}?baud={baud}", path.display())?;
                match flow {
                    FlowControl::None => Ok(()),
                    FlowControl::Hardware => f.write_str("&flow=rtscts"),
                    FlowControl::Software => f.write_str("&flow=xonxoff"),
                }
            }
            Target::Queue { name } => {
                let name = name.as_deref().unwrap_or("");
                let encoded = percent_encoding::utf8_percent_encode(name, QUEUE_ESCAPES);
                write!(f, "lp://{encoded}")
            }
        }
    }
}

const QUEUE_ESCAPES: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'%')
    .add(b'/')
    .add(b'?')
    .add(b'#');

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Target, TargetError> {
        s.parse()
    }

    #[test]
    fn network_printers_default_to_port_9100() {
        assert_eq!(
            parse("tcp://192.168.1.50").unwrap(),
            Target::Tcp {
                host: "192.168.1.50".into(),
                port: 9100
            }
        );
        assert_eq!(
            parse(" TCP://printer.local:9101/ ").unwrap(),
            Target::Tcp {
                host: "printer.local".into(),
                port: 9101
            }
        );
        assert_eq!(
            parse("tcp://[::1]:9100").unwrap(),
            Target::Tcp {
                host: "::1".into(),
                port: 9100
            }
        );
        assert_eq!(
            parse("tcp://[::1]").unwrap().to_string(),
            "tcp://[::1]:9100"
        );
    }

    #[test]
    fn bad_network_addresses_say_what_is_wrong() {
        assert_eq!(parse("tcp://"), Err(TargetError::MissingHost));
        assert_eq!(parse("tcp://:9100"), Err(TargetError::MissingHost));
        assert_eq!(parse("tcp://host:0"), Err(TargetError::BadPort("0".into())));
        assert_eq!(
            parse("tcp://host:http"),
            Err(TargetError::BadPort("http".into()))
        );
        assert_eq!(parse("tcp://admin:pw@host"), Err(TargetError::Credentials));
        assert!(matches!(parse("tcp://::1"), Err(TargetError::BadHost(_))));
        assert!(matches!(
            parse("tcp://host/path"),
            Err(TargetError::BadHost(_))
        ));
        assert_eq!(parse(""), Err(TargetError::Empty));
        assert_eq!(
            parse("printer"),
            Err(TargetError::NotAnAddress("printer".into()))
        );
        assert_eq!(
            parse("http://printer"),
            Err(TargetError::UnknownScheme("http".into()))
        );
        // The password is not echoed back in the message.
        let message = parse("tcp://admin:s3cret@host").unwrap_err().to_string();
        assert!(!message.contains("s3cret"));
    }

    #[test]
    fn device_files_and_serial_ports() {
        assert_eq!(
            parse("/dev/usb/lp0").unwrap(),
            Target::Device {
                path: "/dev/usb/lp0".into()
            }
        );
        assert_eq!(parse("file:///dev/usb/lp0"), parse("/dev/usb/lp0"));
        assert_eq!(parse("file://dev/usb/lp0"), Err(TargetError::RelativePath));
        assert_eq!(
            parse("serial:///dev/ttyUSB0?baud=19200&flow=rtscts").unwrap(),
            Target::Serial {
                path: "/dev/ttyUSB0".into(),
                baud: 19200,
                flow: FlowControl::Hardware
            }
        );
        assert_eq!(
            parse("serial:///dev/ttyS0").unwrap(),
            Target::Serial {
                path: "/dev/ttyS0".into(),
                baud: 9600,
                flow: FlowControl::None
            }
        );
        assert_eq!(
            parse("serial:///dev/ttyS0?baud=12345"),
            Err(TargetError::BadBaud("12345".into()))
        );
        assert_eq!(
            parse("serial:///dev/ttyS0?parity=even"),
            Err(TargetError::UnknownOption("parity".into()))
        );
    }

    #[test]
    fn print_queues_by_name_or_default() {
        assert_eq!(
            parse("lp://receipts").unwrap(),
            Target::Queue {
                name: Some("receipts".into())
            }
        );
        assert_eq!(parse("cups://receipts"), parse("lp://receipts"));
        assert_eq!(parse("lp://").unwrap(), Target::Queue { name: None });
        let windows = parse("winspool://EPSON%20TM-T20III%20Receipt").unwrap();
        assert_eq!(
            windows,
            Target::Queue {
                name: Some("EPSON TM-T20III Receipt".into())
            }
        );
        assert_eq!(windows.to_string(), "lp://EPSON%20TM-T20III%20Receipt");
        assert_eq!(windows.to_string().parse(), Ok(windows));
        assert!(matches!(parse("lp://-oraw"), Err(TargetError::BadQueue(_))));
    }
}
