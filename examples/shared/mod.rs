//! Runtime-independent code shared by the `smol` and `tokio` examples: it
//! uses only turnlock and `futures-lite`, so it runs unchanged on both.

use std::sync::Arc;
use std::time::Duration;

use futures_lite::future;
use turnlock::Lock;

/// A shared log that many tasks append to.
pub type Journal = Arc<Lock<Vec<String>>>;

/// A new journal behind a FIFO lock.
pub fn journal() -> Journal {
    Arc::new(Lock::new_fifo(Vec::new()))
}

/// One task's work: three entries, each written with the lock held across
/// an await point (a yield), as real I/O would.
pub async fn worker(journal: Journal, id: usize) -> usize {
    for step in 0..3 {
        let mut entries = journal.lock().await;
        future::yield_now().await;
        entries.push(format!("task {id} step {step}"));
    }
    id
}

/// Waits for the journal with a deadline from whatever timer the runtime
/// offers: `lock_until` takes any future.
pub async fn count_entries<D: Future>(journal: &Journal, deadline: D) -> Option<usize> {
    journal
        .lock_until(deadline)
        .await
        .ok()
        .map(|entries| entries.len())
}

/// Checks what the workers left behind and prints a summary.
pub fn report(runtime: &str, journal: &Journal, workers: usize) {
    let entries = journal.try_lock().expect("all workers are done");
    assert_eq!(entries.len(), workers * 3);
    println!(
        "{runtime}: {} entries from {workers} tasks; first {:?}, last {:?}",
        entries.len(),
        entries.first().unwrap(),
        entries.last().unwrap()
    );
}

/// How long the examples wait at most.
pub const PATIENCE: Duration = Duration::from_secs(5);
