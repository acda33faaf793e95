//! Local interest in a key: how many callers in this process hold or want
//! it, which decides whether a released remote lock is parked for the next
//! of them or given back.

use std::sync::Arc;

use super::inner::{Inner, State};
use super::unlock::give_back;
use crate::key::LockId;

/// A local caller of a key, counted in its `KeyEntry::interest` from the
/// start of its acquisition until it gives up or its holder lets go.
///
/// Dropped without [`leave`](Interest::leave) (the caller gave up, or its
/// acquisition failed), it gives the count back; if it was the last caller
/// of the key, a lock parked for it has nobody to go to and is released.
pub(crate) struct Interest {
    inner: Option<Arc<Inner>>,
    id: LockId,
}

impl Interest {
    pub(crate) fn enter(inner: &Arc<Inner>, id: LockId) -> Self {
        inner.state().keys.entry(id).or_default().interest += 1;
        Interest {
            inner: Some(inner.clone()),
            id,
        }
    }

    pub(crate) fn id(&self) -> LockId {
        self.id
    }

    pub(crate) fn inner(&self) -> &Arc<Inner> {
        self.inner.as_ref().expect("counted until it leaves")
    }

    /// Gives the count back under a lock the caller holds (a holder letting
    /// go, which took any parked lock when it was granted); the number of
    /// local callers of the key left. The key's entry is removed at 0.
    pub(crate) fn leave(mut self, state: &mut State) -> usize {
        self.inner = None;
        let entry = state.keys.get_mut(&self.id).expect("counted key");
        entry.interest -= 1;
        let left = entry.interest;
        if left == 0 {
            state.keys.remove(&self.id);
        }
        left
    }
}

impl Drop for Interest {
    fn drop(&mut self) {
        let Some(inner) = self.inner.take() else {
            return;
        };
        let unlocks = {
            let mut state = inner.state();
            let entry = state.keys.get_mut(&self.id).expect("counted key");
            entry.interest -= 1;
            if entry.interest > 0 {
                Vec::new()
            } else {
                // The last local caller left: a parked exclusive lock, and
                // idle shared ones, have nobody to go to.
                let entry = state.keys.remove(&self.id).expect("counted key");
                give_back(&inner, &mut state, self.id, entry.parked, entry.shared)
            }
        };
        for unlock in unlocks {
            unlock.send();
        }
    }
}
