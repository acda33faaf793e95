//! [`Pool`]: the keyed-lock API over a bounded set of database sessions.
//!
//! | file | job |
//! |---|---|
//! | `api.rs` | [`Pool`], the public API |
//! | `api_shared.rs` | its shared (reader) methods |
//! | `builder.rs` | [`Builder`]: settings, checked once; `Pool::new` and `Pool::builder` |
//! | `status.rs` | [`Status`], a snapshot of the books |
//! | `future.rs` | [`LockFuture`] and [`LockUntil`], the named futures of acquisitions |
//! | `inner.rs` | the shared state: settings, the local `KeyedRwLocks`, the books under one mutex |
//! | `counts.rs` | the RAII types that alone change the books' counts |
//! | `plan.rs` | placement: where the next statement for a key runs |
//! | `open.rs` | opening a session for the pool |
//! | `heartbeat.rs` | loss detected in bounded time: the beats of every session |
//! | `acquire.rs` | acquisition, and statements whose caller has gone (cancellation) |
//! | `interest.rs` | local interest in a key |
//! | `many.rs` | `lock_many`: several keys at once, in a fixed order |
//! | `shared.rs` | shared acquisition: local readers share one remote shared lock |
//! | `release.rs` | a held key (`Hold`) and how its holder lets go |
//! | `unlock.rs` | giving a remote lock back in the background |

mod acquire;
mod api;
mod api_shared;
mod builder;
mod counts;
mod future;
mod heartbeat;
mod inner;
mod interest;
mod many;
mod open;
mod plan;
mod release;
mod shared;
mod status;
mod unlock;

pub use api::Pool;
pub use builder::Builder;
pub use future::{LockFuture, LockUntil};
pub(crate) use release::Hold;
pub use status::Status;
