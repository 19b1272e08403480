//! Seed mixing: every derived seed in teleseg (per epoch, per generator block, per split hash)
//! goes through the one SplitMix64 finaliser here, so streams are well spread and stable across
//! platforms.

/// 2^64 / φ, the SplitMix64 increment: multiplying a stream number by it spreads consecutive
/// streams over the whole 64-bit range.
pub const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 finaliser (Steele, Lea & Flood 2014): a bijective 64-bit bit mixer.
pub fn splitmix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The seed of stream `stream` (an epoch, a block) of `seed`: distinct `(seed, stream)` pairs
/// give unrelated seeds.
pub fn derive(seed: u64, stream: u64) -> u64 {
    splitmix64(seed ^ stream.wrapping_mul(GOLDEN))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // The first output of the reference SplitMix64 generator seeded with 0 (state += GOLDEN,
        // then the finaliser), as printed by Vigna's splitmix64.c.
        assert_eq!(splitmix64(GOLDEN), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn streams_differ_and_repeat() {
        assert_ne!(derive(42, 0), derive(42, 1));
        assert_ne!(derive(42, 0), derive(43, 0));
        assert_eq!(derive(42, 3), derive(42, 3));
    }
}
