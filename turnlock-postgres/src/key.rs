//! [`LockKey`]: what a lock is named by, and the fixed hash of string keys;
//! [`LockId`]: the advisory lock it stands for.

use std::borrow::Cow;
use std::fmt;

/// A key to lock: an integer used as it is, a pair of `i32` (PostgreSQL's
/// two-key form), or a string or byte string hashed to an `i64`.
///
/// PostgreSQL's advisory locks are named by one `bigint` or by two
/// `integer`s ([`LockId`]). Every method of [`Pool`](crate::Pool) that
/// takes a key accepts anything that converts into a `LockKey`: integers
/// (`i64`, `u64`, `usize` and smaller ones), `(i32, i32)`, `String`,
/// `&str`, `&String`, `Cow<str>`, `Vec<u8>`, `&[u8]`, `&Vec<u8>`, byte
/// arrays, and a [`LockId`]. The key is turned into its [`LockId`] when the
/// method is called; the future it returns does not borrow the key.
///
/// * An **integer key** is the advisory lock id itself: the lock is the one
///   `SELECT pg_advisory_lock(42)` takes, so other code can take part in the
///   same exclusion by hand. The pool's namespace does not apply to it.
///   `u64` and `usize` keys keep their 64 bits (values above `i64::MAX`
///   become negative ids).
/// * A **pair** `(a, b)` is the lock `SELECT pg_advisory_lock(a, b)` takes,
///   the form some other clients use; it is not the same lock as any
///   `bigint` key.
/// * A **string or byte key** is hashed with [`LockKey::hash`], with the
///   pool's [namespace](crate::Builder::namespace) if it has one. The hash is
///   FNV-1a 64, specified below; it never changes across versions,
///   platforms or processes, so programs in other languages can take the
///   same locks.
///
/// # The hash, written out
///
/// 1. The input is the key's bytes (a string's UTF-8 bytes). With a
///    namespace `ns`, the input is `ns`'s UTF-8 bytes, then one byte `0xFF`,
///    then the key's bytes. (`0xFF` never occurs in UTF-8, so the namespace
///    ends unambiguously.)
/// 2. `h = 0xcbf29ce484222325`; for each input byte `b`:
///    `h = (h XOR b) * 0x100000001b3 mod 2^64` (FNV-1a, 64-bit).
/// 3. The lock id is `h` read as a two's-complement signed 64-bit integer.
///
/// Test vectors (input, `h`, lock id):
///
/// | key | namespace | `h` | lock id |
/// |---|---|---|---|
/// | `""` | none | `0xcbf29ce484222325` | `-3750763034362895579` |
/// | `"a"` | none | `0xaf63dc4c8601ec8c` | `-5808556873153909620` |
/// | `"foobar"` | none | `0x85944171f73967e8` | `-8821353812377114648` |
/// | `"user:42"` | none | `0x6c151ea4dcd221c2` | `7788164824035369410` |
/// | `"user:42"` | `"billing"` | `0x1707361acfbdb676` | `1659354476491683446` |
///
/// In Python:
///
/// ```text
/// def lock_id(key: bytes, namespace: str | None = None) -> int:
///     data = key if namespace is None else namespace.encode() + b"\xff" + key
///     h = 0xcbf29ce484222325
///     for b in data:
///         h = ((h ^ b) * 0x100000001b3) % 2**64
///     return h - 2**64 if h >= 2**63 else h
/// ```
///
/// # Collisions
///
/// Two different keys that hash to the same id share one lock: they are
/// serialised together, as if they were one key. That costs waiting, never
/// safety: a collision can make a caller wait when it need not, but it can
/// never let two holders of one key in at once. With `n` distinct keys in
/// use at the same moment the chance of any collision is about
/// `n² / 2^65` (one in 37 million for a million keys at once). A string key
/// can also collide with an integer key somebody uses directly; give each
/// application its own [namespace](crate::Builder::namespace). The hash is
/// not keyed: whoever chooses keys can choose colliding ones and so make two
/// of their own keys wait for each other, nothing more.
///
/// ```
/// use turnlock_postgres::LockKey;
///
/// assert_eq!(LockKey::from(42).id(None), 42);
/// assert_eq!(LockKey::from("user:42").id(None), 7788164824035369410);
/// assert_eq!(LockKey::from("user:42").id(Some("billing")), 1659354476491683446);
/// assert_eq!(LockKey::from(&b"user:42"[..]).id(None), 7788164824035369410);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LockKey<'a>(Repr<'a>);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Repr<'a> {
    Id(LockId),
    Bytes(Cow<'a, [u8]>),
}

/// An advisory lock as PostgreSQL names it: one `bigint`, or a pair of
/// `integer`s (the two-key form `pg_advisory_lock(int, int)`).
///
/// The two forms are different locks, even for the same 64 bits: in
/// `pg_locks` a `bigint` lock has `objsubid = 1`, `classid` its upper and
/// `objid` its lower 32 bits; a pair has `objsubid = 2`, `classid` its
/// first and `objid` its second number. Compares equal to an `i64` when it
/// is that `bigint`.
///
/// ```
/// use turnlock_postgres::{LockId, LockKey};
///
/// assert_eq!(LockKey::from(42).id(None), LockId::Int8(42));
/// assert_eq!(LockKey::from(42).id(None), 42);
/// assert_eq!(LockKey::from((7, 9)).id(None), LockId::Int4Pair(7, 9));
/// assert_ne!(LockKey::from((0, 42)).id(None), 42);
/// assert_eq!(LockId::Int4Pair(7, 9).to_string(), "(7, 9)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LockId {
    /// `pg_advisory_lock(bigint)`.
    Int8(i64),
    /// `pg_advisory_lock(integer, integer)`.
    Int4Pair(i32, i32),
}

impl LockId {
    /// The 64 bits of the id: the `bigint` itself, or the pair's first
    /// number in the upper and its second in the lower 32 bits. Two ids
    /// of different forms can share these bits; fencing tokens are kept per
    /// these bits (see [`Guard::fencing_token`](crate::Guard::fencing_token)).
    ///
    /// ```
    /// use turnlock_postgres::LockId;
    ///
    /// assert_eq!(LockId::Int8(-1).bits(), -1);
    /// assert_eq!(LockId::Int4Pair(1, 2).bits(), (1 << 32) | 2);
    /// ```
    pub fn bits(self) -> i64 {
        match self {
            LockId::Int8(id) => id,
            LockId::Int4Pair(high, low) => (i64::from(high) << 32) | i64::from(low as u32),
        }
    }
}

impl fmt::Display for LockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockId::Int8(id) => write!(f, "{id}"),
            LockId::Int4Pair(a, b) => write!(f, "({a}, {b})"),
        }
    }
}

impl PartialEq<i64> for LockId {
    fn eq(&self, other: &i64) -> bool {
        *self == LockId::Int8(*other)
    }
}

const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(PRIME);
    }
    h
}

impl LockKey<'_> {
    /// The advisory lock of this key: an integer key as it is, a string
    /// or byte key hashed with `namespace` to a `bigint`.
    ///
    /// ```
    /// use turnlock_postgres::LockKey;
    ///
    /// assert_eq!(LockKey::from(-7).id(Some("ignored for integers")), -7);
    /// assert_eq!(LockKey::from("a").id(None), -5808556873153909620);
    /// ```
    pub fn id(&self, namespace: Option<&str>) -> LockId {
        match &self.0 {
            Repr::Id(id) => *id,
            Repr::Bytes(bytes) => LockId::Int8(Self::hash(namespace, bytes)),
        }
    }

    /// The fixed hash of a string or byte key (see the
    /// [type docs](LockKey#the-hash-written-out)).
    ///
    /// ```
    /// use turnlock_postgres::LockKey;
    ///
    /// assert_eq!(LockKey::hash(None, b""), -3750763034362895579);
    /// assert_eq!(LockKey::hash(None, b"foobar"), -8821353812377114648);
    /// assert_eq!(LockKey::hash(Some("billing"), b"user:42"), 1659354476491683446);
    /// ```
    pub fn hash(namespace: Option<&str>, bytes: &[u8]) -> i64 {
        let mut h = OFFSET_BASIS;
        if let Some(namespace) = namespace {
            h = fnv1a(h, namespace.as_bytes());
            h = fnv1a(h, &[0xFF]);
        }
        // The two's-complement reading of the 64 bits, as the docs specify.
        i64::from_ne_bytes(fnv1a(h, bytes).to_ne_bytes())
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for LockKey<'_> {
            /// The integer as the `bigint` advisory lock id.
            fn from(id: $t) -> Self {
                LockKey(Repr::Id(LockId::Int8(i64::from(id))))
            }
        }
    )*};
}
from_int!(i64, i32, i16, i8, u32, u16, u8);

impl From<u64> for LockKey<'_> {
    /// The integer's 64 bits as the `bigint` advisory lock id: values above
    /// `i64::MAX` become negative ids (two's complement), so every `u64`
    /// is its own lock.
    fn from(id: u64) -> Self {
        LockKey(Repr::Id(LockId::Int8(i64::from_ne_bytes(id.to_ne_bytes()))))
    }
}

impl From<usize> for LockKey<'_> {
    /// As for `u64`.
    fn from(id: usize) -> Self {
        // `usize` is at most 64 bits on every target Rust supports.
        LockKey::from(id as u64)
    }
}

impl From<(i32, i32)> for LockKey<'_> {
    /// PostgreSQL's two-key form, `pg_advisory_lock(int, int)`: the lock
    /// other clients take with two numbers (see [`LockId::Int4Pair`]).
    fn from((a, b): (i32, i32)) -> Self {
        LockKey(Repr::Id(LockId::Int4Pair(a, b)))
    }
}

impl From<LockId> for LockKey<'_> {
    /// The advisory lock itself, for instance a [`Guard::key`](crate::Guard::key).
    fn from(id: LockId) -> Self {
        LockKey(Repr::Id(id))
    }
}

impl<'a> From<&'a str> for LockKey<'a> {
    /// The string's UTF-8 bytes, hashed.
    fn from(key: &'a str) -> Self {
        LockKey(Repr::Bytes(Cow::Borrowed(key.as_bytes())))
    }
}

impl<'a> From<&'a String> for LockKey<'a> {
    /// The string's UTF-8 bytes, hashed.
    fn from(key: &'a String) -> Self {
        LockKey::from(key.as_str())
    }
}

impl From<String> for LockKey<'_> {
    /// The string's UTF-8 bytes, hashed: `pool.lock(format!("user:{id}"))`.
    fn from(key: String) -> Self {
        LockKey(Repr::Bytes(Cow::Owned(key.into_bytes())))
    }
}

impl<'a> From<Cow<'a, str>> for LockKey<'a> {
    /// The string's UTF-8 bytes, hashed.
    fn from(key: Cow<'a, str>) -> Self {
        match key {
            Cow::Borrowed(key) => LockKey::from(key),
            Cow::Owned(key) => LockKey::from(key),
        }
    }
}

impl<'a> From<&'a [u8]> for LockKey<'a> {
    /// The bytes, hashed.
    fn from(key: &'a [u8]) -> Self {
        LockKey(Repr::Bytes(Cow::Borrowed(key)))
    }
}

impl<'a> From<&'a Vec<u8>> for LockKey<'a> {
    /// The bytes, hashed.
    fn from(key: &'a Vec<u8>) -> Self {
        LockKey::from(key.as_slice())
    }
}

impl From<Vec<u8>> for LockKey<'_> {
    /// The bytes, hashed.
    fn from(key: Vec<u8>) -> Self {
        LockKey(Repr::Bytes(Cow::Owned(key)))
    }
}

impl<'a, const N: usize> From<&'a [u8; N]> for LockKey<'a> {
    /// The bytes, hashed.
    fn from(key: &'a [u8; N]) -> Self {
        LockKey::from(key.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::{LockId, LockKey};

    #[test]
    fn published_vectors() {
        // From the FNV reference test suite (FNV-1a, 64-bit).
        let cases: [(&[u8], u64); 3] = [
            (b"", 0xcbf2_9ce4_8422_2325),
            (b"a", 0xaf63_dc4c_8601_ec8c),
            (b"foobar", 0x8594_4171_f739_67e8),
        ];
        for (input, h) in cases {
            assert_eq!(LockKey::hash(None, input), h as i64, "{input:?}");
        }
    }

    #[test]
    fn namespace_is_a_prefix_with_a_separator() {
        assert_eq!(
            LockKey::hash(Some("billing"), b"user:42"),
            LockKey::hash(None, b"billing\xffuser:42")
        );
        assert_ne!(
            LockKey::hash(Some("a"), b"b"),
            LockKey::hash(Some("ab"), b"")
        );
    }

    #[test]
    fn strings_and_bytes_agree() {
        let owned = String::from("user:42");
        let bytes = owned.clone().into_bytes();
        let id = LockKey::from("user:42").id(None);
        assert_eq!(LockKey::from(&owned).id(None), id);
        assert_eq!(LockKey::from(&bytes).id(None), id);
        assert_eq!(LockKey::from(b"user:42").id(None), id);
        assert_eq!(LockKey::from(owned.clone()).id(None), id);
        assert_eq!(LockKey::from(bytes.clone()).id(None), id);
        assert_eq!(LockKey::from(Cow::Borrowed("user:42")).id(None), id);
        assert_eq!(LockKey::from(Cow::<str>::Owned(owned)).id(None), id);
        assert_eq!(id, 7_788_164_824_035_369_410);
    }

    #[test]
    fn integers_are_ids() {
        assert_eq!(LockKey::from(i64::MIN).id(Some("ns")), i64::MIN);
        assert_eq!(LockKey::from(7u32).id(None), 7);
        assert_eq!(LockKey::from(7usize).id(None), 7);
        assert_eq!(LockKey::from(u64::MAX).id(None), -1);
        assert_eq!(LockKey::from(1u64 << 63).id(None), i64::MIN);
    }

    #[test]
    fn pairs_are_their_own_form() {
        assert_eq!(LockKey::from((1, 2)).id(Some("ns")), LockId::Int4Pair(1, 2));
        assert_ne!(LockKey::from((1, 2)).id(None), (1 << 32) | 2);
        assert_eq!(LockId::Int4Pair(1, 2).bits(), (1 << 32) | 2);
        assert_eq!(LockId::Int4Pair(-1, -1).bits(), -1);
        assert_eq!(LockId::Int4Pair(0, -1).bits(), 0xffff_ffff);
        assert_eq!(
            LockKey::from(LockId::Int4Pair(3, 4)).id(None),
            LockId::Int4Pair(3, 4)
        );
    }
}
