//! A guided tour of turnlock: both policies, a blocking thread and async
//! tasks on one lock, a timeout, per-key locks, and a reader-writer lock.
//!
//! Run it with `cargo run --example tour`.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use futures_lite::future;
use turnlock::{KeyedLocks, Lock, RwLock, UpgradableReadGuard, WriteGuard};

fn main() {
    println!("1. Strict FIFO (Lock::new_fifo): waiters are served in call order");
    fifo_order();

    println!("\n2. The two policies when a lock is released with a waiter queued");
    hand_off_versus_barging();

    println!("\n3. One lock shared by a blocking thread and async tasks");
    threads_and_tasks();

    println!("\n4. A timeout turns a self-deadlock into an error");
    timeout();

    println!("\n5. Keyed locks: one lock per key, gone when unused");
    keyed();

    println!("\n6. A reader-writer lock: readers together, a writer alone");
    reader_writer();
}

fn fifo_order() {
    let lock = Rc::new(Lock::new_fifo(Vec::new()));
    let guard = lock.try_lock().expect("free");
    println!("   main holds the lock");
    let executor = smol::LocalExecutor::new();
    let tasks: Vec<_> = ["first", "second", "third"]
        .into_iter()
        .map(|name| {
            let lock = lock.clone();
            executor.spawn(async move {
                println!("   {name} asks for the lock");
                lock.lock().await.push(name);
            })
        })
        .collect();
    // Run each task, in spawn order, until it waits for the lock.
    while executor.try_tick() {}
    println!("   main releases the lock");
    drop(guard);
    future::block_on(executor.run(async {
        for task in tasks {
            task.await;
        }
    }));
    println!("   served in order: {:?}", *lock.try_lock().expect("free"));
}

fn hand_off_versus_barging() {
    for (name, lock) in [
        ("Lock::new     ", Lock::new(())),
        ("Lock::new_fifo", Lock::new_fifo(())),
    ] {
        let guard = lock.try_lock().expect("free");
        // A waiter joins the line: poll its future once.
        let mut waiter = Box::pin(lock.lock());
        assert!(future::block_on(future::poll_once(&mut waiter)).is_none());
        drop(guard);
        // Right after the release, can someone who did not wait take it?
        match lock.try_lock() {
            Some(_) => {
                println!("   {name}: a newcomer took the lock ahead of the waiter (barging)")
            }
            None => println!("   {name}: the lock went straight to the waiter (hand-off)"),
        }
        let guard = future::block_on(waiter);
        println!("   {name}: the waiter got the lock too; nobody starves");
        drop(guard);
    }
}

fn threads_and_tasks() {
    let counter = Arc::new(Lock::new(0u32));
    let thread = {
        let counter = counter.clone();
        std::thread::spawn(move || {
            for _ in 0..1000 {
                *counter.lock_blocking() += 1;
            }
        })
    };
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let counter = counter.clone();
            smol::spawn(async move {
                for _ in 0..1000 {
                    let mut count = counter.lock().await;
                    future::yield_now().await; // hold it across an await
                    *count += 1;
                }
            })
        })
        .collect();
    future::block_on(async {
        for task in tasks {
            task.await;
        }
    });
    thread.join().unwrap();
    println!(
        "   1 thread x 1000 + 4 tasks x 1000 increments = {}",
        *counter.lock_blocking()
    );
}

fn timeout() {
    future::block_on(async {
        let connection = Lock::new_fifo("connection");
        let transaction = connection.lock().await;
        println!("   a transaction holds the connection");
        // A query on the outer connection from inside the transaction would
        // wait forever; with a timeout it fails fast instead.
        match connection.lock_timeout(Duration::from_millis(50)).await {
            Ok(_) => unreachable!("the transaction still holds the lock"),
            Err(err) => println!("   nested query: {err}"),
        }
        drop(transaction);
        let query = connection.lock_timeout(Duration::from_millis(50)).await;
        println!("   after the transaction: query runs = {}", query.is_ok());
    });
}

fn keyed() {
    future::block_on(async {
        let users = KeyedLocks::<String>::new();
        let alice = users.lock("alice".to_string()).await;
        println!(
            "   alice is locked; bob is free: {}",
            !users.is_locked("bob")
        );
        let bob = users.lock("bob".to_string()).await;
        println!("   {} keys in use", users.len());
        // A second request for alice waits, then gives up.
        let again = users
            .lock_timeout("alice".to_string(), Duration::from_millis(20))
            .await;
        println!("   second request for alice: {}", again.unwrap_err());
        drop(bob);
        println!("   bob released: {} key in use", users.len());
        drop(alice);
        println!("   alice released: {} keys in use", users.len());
    });
}

fn reader_writer() {
    future::block_on(async {
        let config = RwLock::new(String::from("v1"));
        let (a, b) = (config.read().await, config.read().await);
        println!("   two readers at once: {} and {}", *a, *b);
        println!(
            "   a writer meanwhile: {}",
            match config.try_write() {
                Some(_) => "gets in",
                None => "waits",
            }
        );
        drop((a, b));
        // An upgradable read sits beside plain readers, then becomes the
        // writer with no other writer in between.
        let check = config.upgradable_read().await;
        let reader = config.read().await;
        println!(
            "   an upgradable reader beside a reader: {} and {}",
            *check, *reader
        );
        drop(reader);
        let mut write = UpgradableReadGuard::upgrade(check).await;
        write.replace_range(.., "v2");
        let read = WriteGuard::downgrade(write);
        println!("   upgraded, written, downgraded: {}", *read);
    });
}
