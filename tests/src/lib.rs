//! Test support: real processes on loopback.
