//! For tests here and in the app's end-to-end tests (feature `testing`): a fake ESC/POS
//! network printer on loopback ([`FakePrinter`]) and a decoder that turns printed bytes
//! back into lines, styles, QR payloads and the cut ([`decode`]).

mod decode;
mod fake;

pub use decode::{decode, DecodeError, Decoded, Span};
pub use fake::{Behaviour, FakePrinter, Job, UnansweringPrinter};
