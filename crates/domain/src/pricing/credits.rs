//! `Credits`: an amount in vidgate's abstract money unit, kept as whole micro-credits so every
//! sum in the ledger is exact (no float ever reaches a balance).

use std::fmt;
use std::ops::{Add, Mul, Neg, Sub};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One credit is 1,000,000 micro-credits.
pub const MICROS_PER_CREDIT: i64 = 1_000_000;

/// An amount of credits, exact to a millionth. On the wire and in configuration it is a
/// decimal number of credits (`1.25`); in the store it is the integer of micro-credits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Credits(i64);

impl Credits {
    pub const ZERO: Credits = Credits(0);

    pub const fn from_micros(micros: i64) -> Credits {
        Credits(micros)
    }

    pub const fn micros(self) -> i64 {
        self.0
    }

    /// A decimal number of credits, rounded to the nearest micro-credit; `None` when it is not
    /// a finite number or too large to hold.
    pub fn from_credits(credits: f64) -> Option<Credits> {
        let micros = (credits * MICROS_PER_CREDIT as f64).round();
        (micros.is_finite() && micros.abs() < 9.0e18).then_some(Credits(micros as i64))
    }

    /// As a decimal number of credits (for display; sums are made on micro-credits).
    pub fn as_credits(self) -> f64 {
        self.0 as f64 / MICROS_PER_CREDIT as f64
    }

    /// This price per unit times `units` (seconds, possibly fractional), rounded to the
    /// nearest micro-credit.
    pub fn times(self, units: f64) -> Credits {
        Credits((self.0 as f64 * units).round() as i64)
    }
}

impl Add for Credits {
    type Output = Credits;
    fn add(self, o: Credits) -> Credits {
        Credits(self.0.saturating_add(o.0))
    }
}

impl Sub for Credits {
    type Output = Credits;
    fn sub(self, o: Credits) -> Credits {
        Credits(self.0.saturating_sub(o.0))
    }
}

impl Neg for Credits {
    type Output = Credits;
    fn neg(self) -> Credits {
        Credits(self.0.saturating_neg())
    }
}

impl Mul<i64> for Credits {
    type Output = Credits;
    fn mul(self, n: i64) -> Credits {
        Credits(self.0.saturating_mul(n))
    }
}

impl std::iter::Sum for Credits {
    fn sum<I: Iterator<Item = Credits>>(iter: I) -> Credits {
        iter.fold(Credits::ZERO, |a, b| a + b)
    }
}

/// Exact decimal text: `1.25`, `-0.000001`, `3`.
impl fmt::Display for Credits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let (whole, frac) = (abs / MICROS_PER_CREDIT as u64, abs % MICROS_PER_CREDIT as u64);
        if frac == 0 {
            return write!(f, "{sign}{whole}");
        }
        let frac = format!("{frac:06}");
        write!(f, "{sign}{whole}.{}", frac.trim_end_matches('0'))
    }
}

impl Serialize for Credits {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.as_credits())
    }
}

impl<'de> Deserialize<'de> for Credits {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        Credits::from_credits(v)
            .ok_or_else(|| serde::de::Error::custom(format!("{v} is not an amount of credits")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_exact_and_print_as_decimals() {
        let c = Credits::from_credits(0.1).unwrap();
        assert_eq!(c.micros(), 100_000);
        assert_eq!((c * 3).to_string(), "0.3");
        assert_eq!(Credits::from_micros(-1).to_string(), "-0.000001");
        assert_eq!(Credits::from_credits(12.0).unwrap().to_string(), "12");
        assert_eq!(Credits::from_credits(0.35).unwrap().times(5.0).to_string(), "1.75");
        assert_eq!(Credits::from_credits(f64::NAN), None);
        assert_eq!(Credits::from_credits(1e300), None);
    }
}
