//! turnlock on tokio: the shared code from `examples/shared`, spawned on
//! tokio's multi-threaded runtime (the lock futures are `Send`).
//! `examples/smol.rs` runs the very same code on smol.
//!
//! Run it with `cargo run --example tokio`.

mod shared;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let journal = shared::journal();
    let tasks: Vec<_> = (0..8)
        .map(|id| tokio::spawn(shared::worker(journal.clone(), id)))
        .collect();
    for task in tasks {
        task.await.expect("worker panicked");
    }
    let count = shared::count_entries(&journal, tokio::time::sleep(shared::PATIENCE)).await;
    println!("tokio: lock_until with a tokio sleep saw {count:?} entries");
    shared::report("tokio", &journal, 8);
}
