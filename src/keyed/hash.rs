//! [`DefaultHashBuilder`]: keyed SipHash-1-3, the same type in every build.
//!
//! The algorithm is the one `std`'s `HashMap` uses by default (SipHash with
//! one compression and three finalization rounds), written here so that the
//! type, its keys and its `const` constructor do not depend on the `std`
//! feature: features only add, they never change a type.

use core::fmt;
use core::hash::{BuildHasher, Hasher};

/// The default hasher of [`KeyedLocks`](crate::KeyedLocks): SipHash-1-3
/// with a 128-bit secret key, the algorithm of `std`'s `HashMap`.
///
/// Keys of a keyed lock often come from untrusted requests (user names,
/// paths, ids). Under a hash function with a known key, an attacker can
/// choose keys that collide and slow every lookup down (HashDoS); with a
/// secret key, it cannot.
///
/// * With the `std` feature, [`DefaultHashBuilder::new`] (and `Default`,
///   and [`KeyedLocks::new`](crate::KeyedLocks::new)) draws the key from the
///   operating system's random source, through `std`'s `RandomState`: the
///   same protection as a `std` `HashMap`.
/// * Without `std` there is no random source, so `new` uses a fixed, public
///   key: hashes are the same in every run and give no HashDoS protection.
///   When keys can come from an attacker, build the hasher with
///   [`with_keys`](DefaultHashBuilder::with_keys) from a real entropy
///   source (a hardware random number generator, say).
///
/// The type is the same with and without `std`; only where `new` finds its
/// key differs. Hash values are not part of the API: do not store them.
///
/// ```
/// use core::hash::BuildHasher;
/// use turnlock::{DefaultHashBuilder, KeyedLocks};
///
/// let locks: KeyedLocks<u64, DefaultHashBuilder> = KeyedLocks::new();
/// assert!(locks.try_lock(7).is_some());
///
/// // A fixed key gives the same hashes every time.
/// let fixed = DefaultHashBuilder::with_keys(1, 2);
/// assert_eq!(fixed.hash_one("key"), DefaultHashBuilder::with_keys(1, 2).hash_one("key"));
/// ```
#[derive(Clone)]
pub struct DefaultHashBuilder {
    k0: u64,
    k1: u64,
}

impl DefaultHashBuilder {
    /// A hasher with a random key under `std`, a fixed one without (see
    /// the type's docs).
    ///
    /// ```
    /// use core::hash::BuildHasher;
    /// use turnlock::DefaultHashBuilder;
    ///
    /// let (a, b) = (DefaultHashBuilder::new(), DefaultHashBuilder::new());
    /// // With `std`, every hasher has its own random key.
    /// assert_ne!(a.hash_one(1), b.hash_one(1));
    /// ```
    #[must_use]
    pub fn new() -> Self {
        #[cfg(feature = "std")]
        {
            let (k0, k1) = random_keys();
            Self::with_keys(k0, k1)
        }
        #[cfg(not(feature = "std"))]
        {
            Self::with_keys(FIXED_KEYS.0, FIXED_KEYS.1)
        }
    }

    /// A hasher with the given 128-bit key, as two halves.
    ///
    /// `const`, so that a map with it can be a `static`. Keep the key secret
    /// if keys may come from an attacker: whoever knows it can make keys
    /// collide.
    ///
    /// ```
    /// use turnlock::{DefaultHashBuilder, KeyedLocks};
    ///
    /// // On a target without `std`: a key from a hardware random source,
    /// // a build-time secret, ...
    /// static LOCKS: KeyedLocks<u32> =
    ///     KeyedLocks::with_hasher(DefaultHashBuilder::with_keys(0x5eed, 0xcafe));
    ///
    /// let guard = LOCKS.try_lock(1).unwrap();
    /// assert!(LOCKS.is_locked(&1));
    /// drop(guard);
    /// assert!(LOCKS.is_empty());
    /// ```
    #[must_use]
    pub const fn with_keys(k0: u64, k1: u64) -> Self {
        Self { k0, k1 }
    }
}

/// The key of [`DefaultHashBuilder::new`] without `std`: the first 16
/// bytes of the SipHash paper's test key, read as two little-endian words.
#[cfg(not(feature = "std"))]
const FIXED_KEYS: (u64, u64) = (0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908);

/// 128 random bits from `std`'s `RandomState`, whose key comes from the
/// operating system: two outputs of its keyed SipHash.
#[cfg(feature = "std")]
fn random_keys() -> (u64, u64) {
    let state = std::hash::RandomState::new();
    (state.hash_one(0_u8), state.hash_one(1_u8))
}

impl Default for DefaultHashBuilder {
    /// Same as [`DefaultHashBuilder::new`].
    #[inline]
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for DefaultHashBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key is a secret.
        f.debug_struct("DefaultHashBuilder").finish_non_exhaustive()
    }
}

impl BuildHasher for DefaultHashBuilder {
    type Hasher = KeyHasher;

    #[inline]
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher::new(self.k0, self.k1)
    }
}

/// The [`Hasher`] of [`DefaultHashBuilder`]: SipHash-1-3 in progress.
///
/// ```
/// use core::hash::{BuildHasher, Hasher};
/// use turnlock::{DefaultHashBuilder, KeyHasher};
///
/// let builder = DefaultHashBuilder::with_keys(3, 4);
/// let mut hasher: KeyHasher = builder.build_hasher();
/// hasher.write_u32(42);
/// assert_eq!(hasher.finish(), builder.hash_one(42_u32));
/// ```
#[derive(Clone)]
pub struct KeyHasher(Sip<1, 3>);

impl KeyHasher {
    #[inline]
    const fn new(k0: u64, k1: u64) -> Self {
        Self(Sip::new(k0, k1))
    }
}

impl Hasher for KeyHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        self.0.write(bytes);
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.0.short_write(u64::from(i), 1);
    }

    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.0.short_write(u64::from(i), 2);
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.0.short_write(u64::from(i), 4);
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.0.short_write(i, 8);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        // Lossless: `usize` is at most 64 bits on every supported target.
        self.0.short_write(i as u64, core::mem::size_of::<usize>());
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0.finish()
    }
}

impl fmt::Debug for KeyHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The state is derived from the secret key.
        f.debug_struct("KeyHasher").finish_non_exhaustive()
    }
}

/// SipHash-`C`-`D` in progress: `C` compression rounds per 8-byte word, `D`
/// finalization rounds. [`KeyHasher`] is SipHash-1-3; the tests also build
/// SipHash-2-4, to compare with `core`'s.
#[derive(Clone)]
struct Sip<const C: usize, const D: usize> {
    /// The state `v0, v1, v2, v3`.
    v: [u64; 4],
    /// The bytes written since the last full 8-byte word, little-endian.
    tail: u64,
    /// How many bytes `tail` holds: 0 to 7.
    filled: usize,
    /// Bytes written in all; only its low byte enters the hash.
    length: usize,
}

impl<const C: usize, const D: usize> Sip<C, D> {
    #[inline]
    const fn new(k0: u64, k1: u64) -> Self {
        // The initialization constants spell "somepseudorandomlygeneratedbytes".
        Self {
            v: [
                k0 ^ 0x736f_6d65_7073_6575,
                k1 ^ 0x646f_7261_6e64_6f6d,
                k0 ^ 0x6c79_6765_6e65_7261,
                k1 ^ 0x7465_6462_7974_6573,
            ],
            tail: 0,
            filled: 0,
            length: 0,
        }
    }

    /// Mixes one full 8-byte word into the state.
    #[inline]
    fn compress(&mut self, word: u64) {
        self.v[3] ^= word;
        for _ in 0..C {
            sip_round(&mut self.v);
        }
        self.v[0] ^= word;
    }

    /// Appends `size` bytes (1 to 8): the low `size` bytes of `value`, in
    /// little-endian order, whose higher bytes are 0. The same as `write`
    /// of those bytes, without a loop.
    #[inline]
    fn short_write(&mut self, value: u64, size: usize) {
        debug_assert!((1..=8).contains(&size));
        debug_assert!(size == 8 || value >> (8 * size) == 0);
        self.length = self.length.wrapping_add(size);
        let filled = self.filled;
        self.tail |= value << (8 * filled);
        if filled + size < 8 {
            self.filled = filled + size;
            return;
        }
        self.compress(self.tail);
        // The bytes of `value` that did not fit in the word.
        self.filled = filled + size - 8;
        self.tail = if filled == 0 {
            0
        } else {
            value >> (8 * (8 - filled))
        };
    }

    fn write(&mut self, mut bytes: &[u8]) {
        // Complete a partial word first.
        while self.filled != 0 {
            let Some((&byte, rest)) = bytes.split_first() else {
                return;
            };
            self.short_write(u64::from(byte), 1);
            bytes = rest;
        }
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let mut le = [0; 8];
            le.copy_from_slice(word);
            self.compress(u64::from_le_bytes(le));
        }
        let rest = words.remainder();
        self.length = self.length.wrapping_add(bytes.len() - rest.len());
        for &byte in rest {
            self.short_write(u64::from(byte), 1);
        }
    }

    #[inline]
    fn finish(&self) -> u64 {
        // The last word: the pending bytes, and the length's low byte on top.
        let last = self.tail | ((self.length as u64 & 0xff) << 56);
        let mut v = self.v;
        v[3] ^= last;
        for _ in 0..C {
            sip_round(&mut v);
        }
        v[0] ^= last;
        v[2] ^= 0xff;
        for _ in 0..D {
            sip_round(&mut v);
        }
        v[0] ^ v[1] ^ v[2] ^ v[3]
    }
}

/// One SipRound over the state `[v0, v1, v2, v3]`.
#[inline(always)]
fn sip_round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13) ^ v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16) ^ v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21) ^ v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17) ^ v[2];
    v[2] = v[2].rotate_left(32);
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;
    use core::hash::{BuildHasher, Hasher};

    use super::{DefaultHashBuilder, KeyHasher, Sip};

    /// 0, 1, 2, ... 255: the messages of the SipHash test vectors are
    /// prefixes of this.
    fn message() -> Vec<u8> {
        (0..=255).collect()
    }

    /// The same algorithm with the rounds of SipHash-2-4 matches `core`'s
    /// SipHash-2-4 under arbitrary keys, for every length up to 64 bytes (17 under Miri)
    /// and for writes split at every point: this checks the key schedule,
    /// the byte order, the padding and the length byte.
    #[test]
    fn with_2_4_rounds_it_matches_cores_siphash_2_4() {
        let data = message();
        let longest = if cfg!(miri) { 17 } else { 64 };
        for (k0, k1) in [
            (0, 0),
            (0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908),
            (u64::MAX, 1),
        ] {
            for len in 0..=longest {
                #[allow(deprecated, reason = "the reference SipHash-2-4 of `core`")]
                let mut reference = core::hash::SipHasher::new_with_keys(k0, k1);
                reference.write(&data[..len]);
                let expected = reference.finish();
                for split in 0..=len {
                    let mut ours = Sip::<2, 4>::new(k0, k1);
                    ours.write(&data[..split]);
                    ours.write(&data[split..len]);
                    assert_eq!(ours.finish(), expected, "{len} bytes split at {split}");
                }
            }
        }
    }

    /// `std`'s `DefaultHasher` is SipHash-1-3 under the key (0, 0): an
    /// implementation detail of `std` (unchanged since 2016), so this test
    /// checks this file, not a promise of `std`'s.
    #[cfg(feature = "std")]
    #[test]
    fn under_the_zero_key_it_matches_stds_default_hasher() {
        let data = message();
        let longest = if cfg!(miri) { 17 } else { 64 };
        for len in 0..=longest {
            let mut reference = std::hash::DefaultHasher::new();
            reference.write(&data[..len]);
            let mut ours = DefaultHashBuilder::with_keys(0, 0).build_hasher();
            ours.write(&data[..len]);
            assert_eq!(ours.finish(), reference.finish(), "{len} bytes");
        }
    }

    #[test]
    fn integer_writes_equal_byte_writes() {
        let builder = DefaultHashBuilder::with_keys(0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210);
        // Integer writes starting at every offset within a word.
        for prefix in 0..8_u8 {
            let bytes: Vec<u8> = (0..prefix).map(|i| i.wrapping_mul(17)).collect();
            let mut ints = builder.build_hasher();
            let mut raw = builder.build_hasher();
            ints.write(&bytes);
            raw.write(&bytes);
            ints.write_u8(0xa1);
            raw.write(&[0xa1]);
            ints.write_u16(0xb2c3);
            raw.write(&0xb2c3_u16.to_le_bytes());
            ints.write_u32(0xd4e5_f607);
            raw.write(&0xd4e5_f607_u32.to_le_bytes());
            ints.write_u64(0x1829_3a4b_5c6d_7e8f);
            raw.write(&0x1829_3a4b_5c6d_7e8f_u64.to_le_bytes());
            ints.write_usize(0x77);
            raw.write(&0x77_usize.to_le_bytes());
            assert_eq!(ints.finish(), raw.finish(), "after {prefix} bytes");
        }
    }

    #[test]
    fn finish_does_not_consume() {
        let mut hasher: KeyHasher = DefaultHashBuilder::with_keys(5, 6).build_hasher();
        hasher.write_u32(9);
        assert_eq!(hasher.finish(), hasher.finish());
        let before = hasher.finish();
        hasher.write_u8(0);
        assert_ne!(hasher.finish(), before);
    }

    #[test]
    fn the_key_changes_the_hash() {
        let a = DefaultHashBuilder::with_keys(1, 2).hash_one(7_u64);
        let b = DefaultHashBuilder::with_keys(1, 3).hash_one(7_u64);
        let c = DefaultHashBuilder::with_keys(2, 2).hash_one(7_u64);
        assert!(a != b && a != c && b != c);
    }

    #[cfg(feature = "std")]
    #[test]
    fn new_draws_a_fresh_key_each_time() {
        let hashes: Vec<u64> = (0..8)
            .map(|_| DefaultHashBuilder::new().hash_one(1_u64))
            .collect();
        for (i, a) in hashes.iter().enumerate() {
            assert!(!hashes[i + 1..].contains(a), "two hashers share a key");
        }
    }

    #[test]
    fn debug_hides_the_key() {
        let builder = DefaultHashBuilder::with_keys(0x1234, 0x5678);
        let text = alloc::format!("{builder:?} {:?}", builder.build_hasher());
        assert_eq!(text, "DefaultHashBuilder { .. } KeyHasher { .. }");
    }
}
