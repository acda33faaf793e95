//! [`LockKey`]: what a lock is named by, and the fixed hash of string keys.

/// A key to lock: an `i64` used as it is, or a string or byte string hashed
/// to an `i64`.
///
/// PostgreSQL's advisory locks are named by one `bigint`. Every method of
/// [`Pool`](crate::Pool) that takes a key accepts anything that converts
/// into a `LockKey`: `i64` (and smaller integers), `&str`, `&String`,
/// `&[u8]`, `&Vec<u8>` and byte arrays.
///
/// * An **integer key** is the advisory lock id itself: the lock is the one
///   `SELECT pg_advisory_lock(42)` takes, so other code can take part in the
///   same exclusion by hand. The pool's namespace does not apply to it.
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LockKey<'a>(Repr<'a>);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Repr<'a> {
    Id(i64),
    Bytes(&'a [u8]),
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

impl<'a> LockKey<'a> {
    /// The advisory lock id of this key: an integer key as it is, a string
    /// or byte key hashed with `namespace`.
    ///
    /// ```
    /// use turnlock_postgres::LockKey;
    ///
    /// assert_eq!(LockKey::from(-7).id(Some("ignored for integers")), -7);
    /// assert_eq!(LockKey::from("a").id(None), -5808556873153909620);
    /// ```
    pub fn id(&self, namespace: Option<&str>) -> i64 {
        match self.0 {
            Repr::Id(id) => id,
            Repr::Bytes(bytes) => Self::hash(namespace, bytes),
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
            /// The integer as the advisory lock id.
            fn from(id: $t) -> Self {
                LockKey(Repr::Id(i64::from(id)))
            }
        }
    )*};
}
from_int!(i64, i32, i16, i8, u32, u16, u8);

impl<'a> From<&'a str> for LockKey<'a> {
    /// The string's UTF-8 bytes, hashed.
    fn from(key: &'a str) -> Self {
        LockKey(Repr::Bytes(key.as_bytes()))
    }
}

impl<'a> From<&'a String> for LockKey<'a> {
    /// The string's UTF-8 bytes, hashed.
    fn from(key: &'a String) -> Self {
        LockKey(Repr::Bytes(key.as_bytes()))
    }
}

impl<'a> From<&'a [u8]> for LockKey<'a> {
    /// The bytes, hashed.
    fn from(key: &'a [u8]) -> Self {
        LockKey(Repr::Bytes(key))
    }
}

impl<'a> From<&'a Vec<u8>> for LockKey<'a> {
    /// The bytes, hashed.
    fn from(key: &'a Vec<u8>) -> Self {
        LockKey(Repr::Bytes(key))
    }
}

impl<'a, const N: usize> From<&'a [u8; N]> for LockKey<'a> {
    /// The bytes, hashed.
    fn from(key: &'a [u8; N]) -> Self {
        LockKey(Repr::Bytes(key))
    }
}

#[cfg(test)]
mod tests {
    use super::LockKey;

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
        assert_eq!(id, 7_788_164_824_035_369_410);
    }

    #[test]
    fn integers_are_ids() {
        assert_eq!(LockKey::from(i64::MIN).id(Some("ns")), i64::MIN);
        assert_eq!(LockKey::from(7u32).id(None), 7);
    }
}
