//! The seeded train/valid/test split by customer id.
//!
//! A customer's split depends only on `(seed, id, fractions)`: not on row order, not on the file,
//! not on the platform or Rust version. The hash is spelled out so that any language can reproduce
//! it:
//!
//! 1. `h` = 64-bit FNV-1a (offset basis `0xcbf29ce484222325`, prime `0x100000001b3`) over the 8
//!    little-endian bytes of `seed` followed by the UTF-8 bytes of the id;
//! 2. `h` is passed through the SplitMix64 finalizer (`h ^= h >> 30; h *= 0xbf58476d1ce4e5b9;
//!    h ^= h >> 27; h *= 0x94d049bb133111eb; h ^= h >> 31`, wrapping);
//! 3. `u = (h >> 11) / 2^53`, uniform in `[0, 1)`;
//! 4. `u < test_fraction` → test; else `u < test_fraction + valid_fraction` → valid; else train.
//!
//! Test comes first so that changing `valid_fraction` never moves a test customer.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Which part of the data a customer belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// Used to fit preprocessing and model weights.
    Train,
    /// Used for early stopping and model selection.
    Valid,
    /// Held out for the final evaluation.
    Test,
}

/// Row indices of a table by split, each in increasing order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SplitIndices {
    /// Rows of train customers.
    pub train: Vec<usize>,
    /// Rows of validation customers.
    pub valid: Vec<usize>,
    /// Rows of test customers.
    pub test: Vec<usize>,
}

/// A split fraction that makes no sense.
#[derive(Debug, Error, PartialEq)]
pub enum SplitError {
    /// A fraction outside `[0, 1)`.
    #[error("{name} must be in [0, 1) (got {value})")]
    FractionRange {
        /// `valid_fraction` or `test_fraction`.
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// Nothing left for training.
    #[error(
        "valid_fraction + test_fraction must be below 1 so that train is not empty (got {valid} + {test})"
    )]
    NoTrain {
        /// The validation fraction.
        valid: f64,
        /// The test fraction.
        test: f64,
    },
}

/// Checks split fractions: each in `[0, 1)`, and their sum below 1.
pub fn check_fractions(valid_fraction: f64, test_fraction: f64) -> Result<(), SplitError> {
    for (name, value) in [
        ("valid_fraction", valid_fraction),
        ("test_fraction", test_fraction),
    ] {
        if !(0.0..1.0).contains(&value) {
            return Err(SplitError::FractionRange { name, value });
        }
    }
    if valid_fraction + test_fraction >= 1.0 {
        return Err(SplitError::NoTrain {
            valid: valid_fraction,
            test: test_fraction,
        });
    }
    Ok(())
}

/// A random assignment of `n` rows to `folds` folds of equal size (±1), for cross-fitting:
/// the rows in a seeded random order, dealt round-robin. `rng_seed` seeds the shuffle directly.
pub fn random_folds(n: usize, folds: usize, rng_seed: u64) -> Vec<usize> {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(rng_seed));
    let mut fold = vec![0usize; n];
    for (rank, &r) in order.iter().enumerate() {
        fold[r] = rank % folds.max(1);
    }
    fold
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Continues a 64-bit FNV-1a hash from `state` over `bytes`.
fn fnv1a_extend(mut state: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        state ^= u64::from(b);
        state = state.wrapping_mul(FNV_PRIME);
    }
    state
}

/// Standard 64-bit FNV-1a of `bytes` (stable everywhere).
pub fn fnv1a_64(bytes: &[u8]) -> u64 {
    fnv1a_extend(FNV_OFFSET, bytes)
}

/// The stable 64-bit hash of `(seed, id)` behind [`assign_split`] (steps 1–2 of the module docs).
pub fn split_hash(seed: u64, id: &str) -> u64 {
    let h = fnv1a_extend(FNV_OFFSET, &seed.to_le_bytes());
    crate::seed::splitmix64(fnv1a_extend(h, id.as_bytes()))
}

/// The split of customer `id` for `seed`; `valid_fraction` and `test_fraction` are the expected
/// shares of customers (see [`check_fractions`]).
pub fn assign_split(id: &str, seed: u64, valid_fraction: f64, test_fraction: f64) -> Split {
    let u = (split_hash(seed, id) >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
    if u < test_fraction {
        Split::Test
    } else if u < test_fraction + valid_fraction {
        Split::Valid
    } else {
        Split::Train
    }
}

/// Splits the rows of a table by the id of each row (see [`assign_split`]).
pub fn split_indices(
    ids: &[String],
    seed: u64,
    valid_fraction: f64,
    test_fraction: f64,
) -> SplitIndices {
    let mut out = SplitIndices::default();
    for (row, id) in ids.iter().enumerate() {
        match assign_split(id, seed, valid_fraction, test_fraction) {
            Split::Train => out.train.push(row),
            Split::Valid => out.valid.push(row),
            Split::Test => out.test.push(row),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("C{i:06}")).collect()
    }

    #[test]
    fn fnv1a_matches_reference_vectors() {
        // From the FNV reference test suite (http://www.isthe.com/chongo/src/fnv/test_fnv.c).
        assert_eq!(fnv1a_64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a_64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a_64(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn split_hash_is_pinned() {
        // Pinned so that a change of algorithm (which would move customers between splits) fails
        // here. Reproduced in Python:
        //   M = 2**64; h = 0xcbf29ce484222325
        //   for b in (42).to_bytes(8, "little") + b"C000001": h = ((h ^ b) * 0x100000001b3) % M
        //   h ^= h >> 30; h = h * 0xbf58476d1ce4e5b9 % M; h ^= h >> 27
        //   h = h * 0x94d049bb133111eb % M; h ^= h >> 31
        assert_eq!(split_hash(42, "C000001"), PINNED);
    }
    const PINNED: u64 = 0xfb29_5aef_5c24_64be;

    #[test]
    fn fractions_are_respected() {
        let ids = ids(10_000);
        let s = split_indices(&ids, 7, 0.15, 0.10);
        let share = |v: &Vec<usize>| v.len() as f64 / ids.len() as f64;
        assert!(
            (share(&s.valid) - 0.15).abs() < 0.02,
            "valid {}",
            share(&s.valid)
        );
        assert!(
            (share(&s.test) - 0.10).abs() < 0.02,
            "test {}",
            share(&s.test)
        );
        assert!(
            (share(&s.train) - 0.75).abs() < 0.02,
            "train {}",
            share(&s.train)
        );
        assert_eq!(s.train.len() + s.valid.len() + s.test.len(), ids.len());
    }

    #[test]
    fn order_does_not_matter() {
        let ids = ids(2_000);
        let mut reversed = ids.clone();
        reversed.reverse();
        let a = split_indices(&ids, 3, 0.2, 0.2);
        let b = split_indices(&reversed, 3, 0.2, 0.2);
        let n = ids.len() - 1;
        let mut b_test: Vec<usize> = b.test.iter().map(|&r| n - r).collect();
        b_test.sort_unstable();
        assert_eq!(a.test, b_test);
        for id in &ids[..50] {
            assert_eq!(assign_split(id, 3, 0.2, 0.2), assign_split(id, 3, 0.2, 0.2));
        }
    }

    #[test]
    fn seed_changes_the_split() {
        let ids = ids(1_000);
        assert_ne!(
            split_indices(&ids, 1, 0.2, 0.2),
            split_indices(&ids, 2, 0.2, 0.2)
        );
    }

    #[test]
    fn growing_valid_never_moves_test_customers() {
        let ids = ids(2_000);
        assert_eq!(
            split_indices(&ids, 5, 0.1, 0.2).test,
            split_indices(&ids, 5, 0.3, 0.2).test
        );
    }

    #[test]
    fn zero_fractions_put_everyone_in_train() {
        let s = split_indices(&ids(100), 1, 0.0, 0.0);
        assert_eq!(s.train.len(), 100);
    }

    #[test]
    fn bad_fractions_are_rejected() {
        assert!(matches!(
            check_fractions(-0.1, 0.1),
            Err(SplitError::FractionRange {
                name: "valid_fraction",
                ..
            })
        ));
        assert!(matches!(
            check_fractions(0.1, 1.0),
            Err(SplitError::FractionRange {
                name: "test_fraction",
                ..
            })
        ));
        assert!(matches!(
            check_fractions(0.5, 0.5),
            Err(SplitError::NoTrain { .. })
        ));
        assert_eq!(check_fractions(0.1, 0.1), Ok(()));
    }
}
