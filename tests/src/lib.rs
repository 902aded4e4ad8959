//! Test support for PayDesk's whole-system and end-to-end tests: real processes on
//! loopback, and the real app under Xvfb through WebDriver.

pub mod e2e;
pub mod proxy;
pub mod system;
