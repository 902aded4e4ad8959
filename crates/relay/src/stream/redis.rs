//! The Redis Streams backend (work in progress in this commit).
