//! Retry delays: exponential backoff with full jitter, and jittered intervals.
//!
//! Full jitter (`random(0, min(cap, base · 2ⁿ))`) spreads a shop's terminals apart after
//! a relay restart instead of having them all knock at once.

use std::time::Duration;

/// `random(0, min(cap, base · 2^attempt))`.
pub fn full_jitter(base: Duration, cap: Duration, attempt: u32) -> Duration {
    let ceiling = exp_ceiling(base, cap, attempt);
    random_between(Duration::ZERO, ceiling)
}

/// `min(cap, base · 2^attempt)`.
pub fn exp_ceiling(base: Duration, cap: Duration, attempt: u32) -> Duration {
    let factor = 1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX);
    base.saturating_mul(factor).min(cap)
}

/// `interval` scaled by a random factor in `[1 - spread, 1 + spread]`.
pub fn jittered(interval: Duration, spread: f64) -> Duration {
    let spread = spread.clamp(0.0, 1.0);
    let lo = interval.mul_f64(1.0 - spread);
    let hi = interval.mul_f64(1.0 + spread);
    random_between(lo, hi)
}

/// Uniform in `[lo, hi]`.
pub fn random_between(lo: Duration, hi: Duration) -> Duration {
    if hi <= lo {
        return lo;
    }
    let lo_us = u64::try_from(lo.as_micros()).unwrap_or(u64::MAX);
    let hi_us = u64::try_from(hi.as_micros()).unwrap_or(u64::MAX);
    Duration::from_micros(rand::random_range(lo_us..=hi_us))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_jitter_stays_under_a_growing_capped_ceiling() {
        let base = Duration::from_secs(1);
        let cap = Duration::from_secs(30);
        assert_eq!(exp_ceiling(base, cap, 0), Duration::from_secs(1));
        assert_eq!(exp_ceiling(base, cap, 3), Duration::from_secs(8));
        assert_eq!(exp_ceiling(base, cap, 5), cap);
        assert_eq!(exp_ceiling(base, cap, 400), cap);
        for n in 0..12 {
            assert!(full_jitter(base, cap, n) <= exp_ceiling(base, cap, n));
        }
        let j = jittered(Duration::from_millis(1500), 0.2);
        assert!(j >= Duration::from_millis(1200) && j <= Duration::from_millis(1800));
    }
}
