//! PINs: what one is ([`Pin`]), and how it is kept ([`PinHash`], argon2id).
//!
//! A PIN enters PayDesk as a [`Secret`] (typed on the PIN pad, `--pin`, `PAYDESK_PIN`) and
//! becomes a [`Pin`] once it is known to be 4–6 ASCII digits; neither prints its value. The
//! store keeps only an argon2id PHC string per person, salted with 16 random bytes and
//! sized by [`PinCost`] (about 60 ms here, see docs/staff.md). Verifying reads the cost
//! from the stored string, so hashes written under an older cost keep working, and
//! compares the outputs in constant time (the `password-hash` crate's `Output`).

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use paydesk_protocol::Secret;

/// A staff member's PIN: 4 to 6 ASCII digits. `Debug` says `[redacted]`; there is no
/// `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Pin(Secret);

/// Why a typed PIN is not a PIN. The message never repeats what was typed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("A PIN is {min} to {max} digits (0-9), nothing else.", min = Pin::MIN_LEN, max = Pin::MAX_LEN)]
pub struct PinFormatError;

impl Pin {
    pub const MIN_LEN: usize = 4;
    pub const MAX_LEN: usize = 6;

    pub fn new(secret: Secret) -> Result<Pin, PinFormatError> {
        let s = secret.expose();
        let ok = (Pin::MIN_LEN..=Pin::MAX_LEN).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_digit());
        if ok {
            Ok(Pin(secret))
        } else {
            Err(PinFormatError)
        }
    }

    fn bytes(&self) -> &[u8] {
        self.0.expose().as_bytes()
    }
}

impl TryFrom<Secret> for Pin {
    type Error = PinFormatError;

    fn try_from(secret: Secret) -> Result<Self, Self::Error> {
        Pin::new(secret)
    }
}

impl FromStr for Pin {
    type Err = PinFormatError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Pin::new(Secret::new(s))
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin([redacted])")
    }
}

/// How expensive a PIN hash is: argon2id memory (KiB), passes and lanes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PinCost {
    memory_kib: u32,
    passes: u32,
    lanes: u32,
}

/// A [`PinCost`] argon2 refuses (too little memory for the lanes, zero passes, …).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("argon2id refuses memory {memory_kib} KiB, {passes} passes, {lanes} lanes: {reason}")]
pub struct PinCostError {
    memory_kib: u32,
    passes: u32,
    lanes: u32,
    reason: String,
}

impl PinCost {
    /// 64 MiB, one pass, one lane: about 60 ms on the 2-core build machine (docs/staff.md).
    pub const DEFAULT: PinCost = PinCost {
        memory_kib: 64 * 1024,
        passes: 1,
        lanes: 1,
    };

    pub fn new(memory_kib: u32, passes: u32, lanes: u32) -> Result<PinCost, PinCostError> {
        let cost = PinCost {
            memory_kib,
            passes,
            lanes,
        };
        cost.params()?;
        Ok(cost)
    }

    pub fn memory_kib(&self) -> u32 {
        self.memory_kib
    }

    pub fn passes(&self) -> u32 {
        self.passes
    }

    pub fn lanes(&self) -> u32 {
        self.lanes
    }

    fn params(&self) -> Result<Params, PinCostError> {
        Params::new(self.memory_kib, self.passes, self.lanes, None).map_err(|e| PinCostError {
            memory_kib: self.memory_kib,
            passes: self.passes,
            lanes: self.lanes,
            reason: e.to_string(),
        })
    }
}

impl Default for PinCost {
    fn default() -> Self {
        PinCost::DEFAULT
    }
}

/// A stored PIN: an argon2id PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`).
/// `Debug` shows the cost but not the salt or hash.
#[derive(Clone, PartialEq, Eq)]
pub struct PinHash(String);

/// A stored hash that is not an argon2id PHC string PayDesk would verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a stored PIN hash is not a usable argon2id hash: {0}")]
pub struct BadHash(String);

/// The most a stored hash may ask of a verify: a file edited to demand 100 GiB per try
/// should fail, not take the till down.
const MAX_VERIFY_MEMORY_KIB: u32 = 1024 * 1024;
const MAX_VERIFY_PASSES: u32 = 16;
/// Verifies at once: each holds its hash's memory (64 MiB at the default cost).
const MAX_VERIFY_THREADS: usize = 4;

impl PinHash {
    /// Hashes `pin` with a fresh 16-byte salt.
    pub fn new(pin: &Pin, cost: PinCost) -> Result<PinHash, BadHash> {
        let params = cost.params().map_err(|e| BadHash(e.to_string()))?;
        let salt_bytes: [u8; 16] = rand::random();
        let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| BadHash(e.to_string()))?;
        let hash = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(pin.bytes(), &salt)
            .map_err(|e| BadHash(e.to_string()))?;
        Ok(PinHash(hash.to_string()))
    }

    /// A hash as read back from the store, checked to be argon2id within sane bounds.
    pub fn parse(phc: String) -> Result<PinHash, BadHash> {
        {
            let parsed = PasswordHash::new(&phc).map_err(|e| BadHash(e.to_string()))?;
            if parsed.algorithm != Algorithm::Argon2id.ident() {
                return Err(BadHash(format!("algorithm {}", parsed.algorithm)));
            }
            let params = Params::try_from(&parsed).map_err(|e| BadHash(e.to_string()))?;
            if params.m_cost() > MAX_VERIFY_MEMORY_KIB || params.t_cost() > MAX_VERIFY_PASSES {
                return Err(BadHash(format!(
                    "cost m={} t={} is beyond what a till verifies",
                    params.m_cost(),
                    params.t_cost()
                )));
            }
            if parsed.salt.is_none() || parsed.hash.is_none() {
                return Err(BadHash("no salt or no hash".into()));
            }
        }
        Ok(PinHash(phc))
    }

    /// Whether `pin` is the PIN this hash was made from; constant time in the comparison.
    pub fn matches(&self, pin: &Pin) -> bool {
        let Ok(parsed) = PasswordHash::new(&self.0) else {
            return false;
        };
        Argon2::default()
            .verify_password(pin.bytes(), &parsed)
            .is_ok()
    }

    /// Which of `hashes` is `pin`'s. The first is tried alone (the store puts the person
    /// seen last first: usually the cashier at the till), the rest on up to one thread per
    /// core: a PIN alone is checked against everyone on the staff, and a wrong one against
    /// all of them.
    pub fn find(hashes: &[PinHash], pin: &Pin) -> Option<usize> {
        let (first, rest) = hashes.split_first()?;
        if first.matches(pin) {
            return Some(0);
        }
        let workers = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(MAX_VERIFY_THREADS)
            .min(rest.len());
        if workers <= 1 {
            return rest.iter().position(|h| h.matches(pin)).map(|i| i + 1);
        }
        let next = AtomicUsize::new(0);
        let found = AtomicUsize::new(usize::MAX);
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    // Stop at the end, or once an earlier hash has matched.
                    let Some(hash) = rest.get(i) else { return };
                    if i > found.load(Ordering::Relaxed) {
                        return;
                    }
                    if hash.matches(pin) {
                        found.fetch_min(i, Ordering::Relaxed);
                        return;
                    }
                });
            }
        });
        Some(found.into_inner())
            .filter(|i| *i != usize::MAX)
            .map(|i| i + 1)
    }

    /// The PHC string, for the store.
    pub fn as_phc(&self) -> &str {
        &self.0
    }

    /// The `$argon2id$v=19$m=…,t=…,p=…` prefix: what it costs, not what it hides.
    fn cost_part(&self) -> &str {
        let mut end = 0;
        for (i, part) in self.0.split('$').enumerate().take(4) {
            end += part.len() + usize::from(i > 0);
        }
        self.0.get(..end).unwrap_or("")
    }
}

impl fmt::Debug for PinHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PinHash({}$[redacted])", self.cost_part())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_is_four_to_six_ascii_digits() {
        for ok in ["0000", "12345", "987654"] {
            assert!(ok.parse::<Pin>().is_ok(), "{ok} should be a PIN");
        }
        for bad in [
            "", "123", "1234567", "12a4", " 1234", "1234\n", "١٢٣٤", "12.4", "-123",
        ] {
            assert_eq!(bad.parse::<Pin>(), Err(PinFormatError), "{bad:?}");
        }
    }

    #[test]
    fn a_pin_never_prints_and_its_error_never_repeats_it() {
        let pin: Pin = "739251".parse().unwrap();
        assert_eq!(format!("{pin:?}"), "Pin([redacted])");
        let err = "7392510".parse::<Pin>().unwrap_err();
        assert!(!err.to_string().contains("7392510"));
        assert!(!format!("{err:?}").contains("7392510"));
    }

    #[test]
    fn a_hash_is_salted_argon2id_and_verifies_only_its_pin() {
        let cost = PinCost::new(8 * 1024, 1, 1).unwrap();
        let pin: Pin = "4821".parse().unwrap();
        let a = PinHash::new(&pin, cost).unwrap();
        let b = PinHash::new(&pin, cost).unwrap();
        assert!(a.as_phc().starts_with("$argon2id$v=19$m=8192,t=1,p=1$"));
        assert_ne!(a, b, "each hash has its own salt");
        assert!(a.matches(&pin) && b.matches(&pin));
        assert!(!a.matches(&"4822".parse().unwrap()));
        let debug = format!("{a:?}");
        assert_eq!(debug, "PinHash($argon2id$v=19$m=8192,t=1,p=1$[redacted])");
    }

    #[test]
    fn find_names_the_hash_of_the_pin_or_none() {
        let cost = PinCost::new(8 * 1024, 1, 1).unwrap();
        let pins: Vec<Pin> = ["1111", "2222", "3333", "4444", "5555"]
            .iter()
            .map(|p| p.parse().unwrap())
            .collect();
        let hashes: Vec<PinHash> = pins
            .iter()
            .map(|p| PinHash::new(p, cost).unwrap())
            .collect();
        for (i, p) in pins.iter().enumerate() {
            assert_eq!(PinHash::find(&hashes, p), Some(i));
        }
        assert_eq!(PinHash::find(&hashes, &"6666".parse().unwrap()), None);
        assert_eq!(PinHash::find(&[], &pins[0]), None);
    }

    #[test]
    fn a_stored_hash_must_be_argon2id_within_bounds() {
        assert!(PinHash::parse("4821".into()).is_err());
        let argon2i = "$argon2i$v=19$m=8192,t=1,p=1$c2FsdHNhbHRzYWx0$\
                       aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
        assert!(PinHash::parse(argon2i.into()).is_err());
        let greedy = "$argon2id$v=19$m=104857600,t=1,p=1$c2FsdHNhbHRzYWx0$\
                      aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
        assert!(PinHash::parse(greedy.into()).is_err());
        let good =
            PinHash::new(&"1234".parse().unwrap(), PinCost::new(8192, 1, 1).unwrap()).unwrap();
        assert_eq!(PinHash::parse(good.as_phc().to_owned()).unwrap(), good);
    }
}
