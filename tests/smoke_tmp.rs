use std::sync::Arc;
use std::time::Duration;
use turnlock::Lock;

fn run(lock: Arc<Lock<(u64, bool)>>, tasks: usize, iters: u64, threads: usize) {
    let ex = Arc::new(smol::Executor::new());
    let (stop_tx, stop_rx) = smol::channel::unbounded::<()>();
    let mut pool = vec![];
    for _ in 0..2 {
        let ex = ex.clone();
        let rx = stop_rx.clone();
        pool.push(std::thread::spawn(move || smol::block_on(ex.run(rx.recv()))));
    }
    let mut handles = vec![];
    for _ in 0..tasks {
        let lock = lock.clone();
        handles.push(ex.spawn(async move {
            for i in 0..iters {
                let mut g = lock.lock().await;
                assert!(!g.1);
                g.1 = true;
                if i % 7 == 0 { smol::future::yield_now().await; }
                g.0 += 1;
                g.1 = false;
            }
        }));
    }
    let mut blockers = vec![];
    for _ in 0..threads {
        let lock = lock.clone();
        blockers.push(std::thread::spawn(move || {
            for _ in 0..iters {
                let mut g = lock.lock_blocking();
                assert!(!g.1);
                g.1 = true;
                g.0 += 1;
                g.1 = false;
            }
        }));
    }
    smol::block_on(async { for h in handles { h.await; } });
    for b in blockers { b.join().unwrap(); }
    drop(stop_tx);
    for p in pool { p.join().unwrap(); }
    assert_eq!(lock.lock_blocking().0, (tasks + threads) as u64 * iters);
    assert!(!lock.is_locked());
}

#[test]
fn smoke_new() { run(Arc::new(Lock::new((0, false))), 64, 2000, 2); }
#[test]
fn smoke_fifo() { run(Arc::new(Lock::new_fifo((0, false))), 64, 2000, 2); }

#[test]
fn cancel_storm() {
    for fifo in [false, true] {
        let lock = Arc::new(if fifo { Lock::new_fifo(0u64) } else { Lock::new(0u64) });
        let ex = Arc::new(smol::Executor::new());
        let (stop_tx, stop_rx) = smol::channel::unbounded::<()>();
        let mut pool = vec![];
        for _ in 0..2 { let ex = ex.clone(); let rx = stop_rx.clone(); pool.push(std::thread::spawn(move || smol::block_on(ex.run(rx.recv())))); }
        let mut hs = vec![];
        for t in 0..32u64 {
            let lock = lock.clone();
            hs.push(ex.spawn(async move {
                let mut got = 0;
                for i in 0..2000u64 {
                    let f = async { let mut g = lock.lock().await; if (i + t) % 3 == 0 { smol::future::yield_now().await; } *g += 1; true };
                    let y = async { for _ in 0..((i * 7 + t) % 4) { smol::future::yield_now().await; } false };
                    if smol::future::or(f, y).await { got += 1; }
                }
                got
            }));
        }
        let total: u64 = smol::block_on(async { let mut s = 0; for h in hs { s += h.await; } s });
        drop(stop_tx); for p in pool { p.join().unwrap(); }
        assert!(!lock.is_locked(), "lock leaked");
        assert_eq!(*lock.try_lock().unwrap(), total);
        eprintln!("fifo={fifo} acquired {total} of 64000");
    }
}

#[test]
fn timeout_blocking() {
    let lock = Lock::new(());
    let g = lock.lock_blocking();
    let t = std::time::Instant::now();
    assert!(lock.lock_blocking_timeout(Duration::from_millis(30)).is_err());
    assert!(t.elapsed() >= Duration::from_millis(30));
    drop(g);
    assert!(lock.lock_blocking_timeout(Duration::MAX).is_ok());
}
