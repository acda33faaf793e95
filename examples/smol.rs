//! turnlock on smol: the shared code from `examples/shared`, spawned on
//! smol's executor. `examples/tokio.rs` runs the very same code on tokio.
//!
//! Run it with `cargo run --example smol`.

mod shared;

fn main() {
    smol::block_on(async {
        let journal = shared::journal();
        let tasks: Vec<_> = (0..8)
            .map(|id| smol::spawn(shared::worker(journal.clone(), id)))
            .collect();
        for task in tasks {
            task.await;
        }
        let count = shared::count_entries(&journal, smol::Timer::after(shared::PATIENCE)).await;
        println!("smol: lock_until with an async-io timer saw {count:?} entries");
        shared::report("smol", &journal, 8);
    });
}
