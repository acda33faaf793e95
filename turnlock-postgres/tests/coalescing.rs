//! Local coalescing and the session pool: many local waiters cost few
//! sessions, a remote holder's key never holds up other keys, local
//! hand-offs do not starve other processes.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{advisory_locks, backends, eventually, smol, url};
use turnlock_postgres::Pool;

#[test]
fn sixty_four_local_waiters_on_one_key_use_a_few_sessions() {
    let app = "coalesce_hot";
    let url = url(app);
    smol(120, async move {
        let pool = Pool::new(&url).unwrap();
        let inside = Arc::new(AtomicUsize::new(0));
        let most_backends = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let (pool, inside) = (pool.clone(), inside.clone());
                smol::spawn(async move {
                    for _ in 0..10 {
                        let guard = pool.lock("hot").await.unwrap();
                        assert_eq!(
                            inside.fetch_add(1, Ordering::SeqCst),
                            0,
                            "two local holders"
                        );
                        futures_lite::future::yield_now().await;
                        inside.fetch_sub(1, Ordering::SeqCst);
                        drop(guard);
                    }
                })
            })
            .collect();
        let watcher = smol::spawn({
            let (pool, most) = (pool.clone(), most_backends.clone());
            async move {
                loop {
                    most.fetch_max(pool.status().sessions, Ordering::SeqCst);
                    async_io::Timer::after(Duration::from_millis(2)).await;
                }
            }
        });
        for task in tasks {
            task.await;
        }
        drop(watcher);
        // One holds the key; a release leaves it busy for a moment, and
        // the next holder takes the key on another.
        assert!(
            most_backends.load(Ordering::SeqCst) <= 3,
            "{} sessions",
            most_backends.load(Ordering::SeqCst)
        );
        assert!(
            backends(app) <= 3,
            "the server saw {} sessions",
            backends(app)
        );
        eventually(10, "released", || {
            advisory_locks(app) == 0 && pool.status().is_idle()
        })
        .await;
    });
}

#[test]
fn local_hand_offs_do_not_starve_another_process() {
    let url_busy = url("coalesce_fair_busy");
    let url_other = url("coalesce_fair_other");
    smol(120, async move {
        let busy = Pool::new(&url_busy).unwrap();
        let other = Pool::new(&url_other).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        // Sixteen local tasks keep key 5001 permanently wanted in `busy`.
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (busy, stop) = (busy.clone(), stop.clone());
                smol::spawn(async move {
                    while !stop.load(Ordering::SeqCst) {
                        let guard = busy.lock(5001).await.unwrap();
                        async_io::Timer::after(Duration::from_micros(200)).await;
                        drop(guard);
                    }
                })
            })
            .collect();
        eventually(10, "busy holds the key", || busy.is_locked_here(5001)).await;
        let started = Instant::now();
        let guard = other
            .lock_timeout(5001, Duration::from_secs(20))
            .await
            .unwrap();
        let waited = started.elapsed();
        guard.release().await.unwrap();
        stop.store(true, Ordering::SeqCst);
        for task in tasks {
            task.await;
        }
        // At most 16 hand-offs of ~0.2 ms each before `busy` lets go.
        assert!(waited < Duration::from_secs(5), "waited {waited:?}");
    });
}

#[test]
fn a_remote_holder_never_holds_up_other_keys() {
    let app = "coalesce_other_keys";
    let url_main = url(app);
    let url_holder = url("coalesce_other_keys_holder");
    smol(120, async move {
        // Two sessions: at most one waits on the server, one stays shared.
        let pool = Pool::builder(&url_main).max_sessions(2).build().unwrap();
        let holder = Pool::new(&url_holder).unwrap();
        let mut held = Vec::new();
        for key in 5101..5104 {
            held.push(holder.lock(key).await.unwrap());
        }
        let waiters: Vec<_> = (5101..5104)
            .map(|key| {
                let pool = pool.clone();
                smol::spawn(async move { pool.lock(key).await.unwrap().release().await.unwrap() })
            })
            .collect();
        eventually(10, "a waiter waits on the server", || {
            pool.status().waiting == 1
        })
        .await;
        for key in 5110..5120 {
            let started = Instant::now();
            let guard = pool
                .lock_timeout(key, Duration::from_secs(2))
                .await
                .unwrap();
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "{:?}",
                started.elapsed()
            );
            guard.release().await.unwrap();
        }
        assert!(pool.status().sessions <= 2);
        for guard in held {
            guard.release().await.unwrap();
        }
        for waiter in waiters {
            common::with_timeout(Duration::from_secs(10), waiter)
                .await
                .expect("every waiter got its key");
        }
        eventually(10, "all back", || {
            let s = pool.status();
            (s.waiting, s.busy, s.held, s.keys) == (0, 0, 0, 0)
        })
        .await;
        assert_eq!(advisory_locks(app), 0);
    });
}

#[test]
fn a_single_session_pool_polls_and_still_serves_everyone() {
    let app = "coalesce_single";
    let url_main = url(app);
    let url_holder = url("coalesce_single_holder");
    smol(60, async move {
        let pool = Pool::builder(&url_main).max_sessions(1).build().unwrap();
        let holder = Pool::new(&url_holder).unwrap();
        let held = holder.lock(5201).await.unwrap();
        let waiter = smol::spawn({
            let pool = pool.clone();
            async move { pool.lock(5201).await.unwrap() }
        });
        let other = pool
            .lock_timeout(5202, Duration::from_secs(2))
            .await
            .unwrap();
        other.release().await.unwrap();
        assert_eq!(
            pool.status().waiting,
            0,
            "a single session never blocks in a wait"
        );
        held.release().await.unwrap();
        let guard = common::with_timeout(Duration::from_secs(5), waiter)
            .await
            .expect("polled its way in");
        guard.release().await.unwrap();
        assert_eq!(backends(app), 1);
    });
}

#[test]
fn no_local_hand_offs_when_disabled() {
    let app = "coalesce_no_handoff";
    let url = url(app);
    smol(60, async move {
        let pool = Pool::builder(&url).max_local_handoffs(0).build().unwrap();
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let pool = pool.clone();
                smol::spawn(async move {
                    for _ in 0..5 {
                        pool.lock(5301).await.unwrap().release().await.unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await;
        }
        eventually(10, "released", || advisory_locks(app) == 0).await;
    });
}

#[test]
fn two_processes_share_a_hot_key_evenly() {
    // One task per process, each locking and releasing the same key in a
    // loop: the lock must not stick to one process (a session never takes
    // a key it still holds or is still releasing, which would let it pass
    // a waiting process).
    let url_a = url("coalesce_even_a");
    let url_b = url("coalesce_even_b");
    smol(60, async move {
        let pools = [Pool::new(&url_a).unwrap(), Pool::new(&url_b).unwrap()];
        // Both sessions open before the clock starts: a process still
        // connecting would leave the key to the other one alone meanwhile.
        for pool in &pools {
            pool.connect().await.unwrap();
        }
        let deadline = Instant::now() + Duration::from_millis(1500);
        let tasks: Vec<_> = pools
            .iter()
            .map(|pool| {
                let pool = pool.clone();
                smol::spawn(async move {
                    let mut count = 0usize;
                    while Instant::now() < deadline {
                        drop(pool.lock(5401).await.unwrap());
                        count += 1;
                    }
                    count
                })
            })
            .collect();
        let mut counts = Vec::new();
        for task in tasks {
            counts.push(task.await);
        }
        let (low, high) = (counts[0].min(counts[1]), counts[0].max(counts[1]));
        assert!(low * 3 >= high, "uneven: {counts:?}");
    });
}

#[test]
fn a_released_key_goes_to_the_process_that_waits() {
    // `a`, with no local hand-offs allowed, lets go of a key that `b` waits
    // for on the server and at once tries it again: `b` comes first.
    // (Advisory locks are reentrant per session, so a try on the session
    // still releasing the key would succeed and pass `b`; the pool never
    // sends it there.)
    let url_a = url("coalesce_passed_a");
    let url_b = url("coalesce_passed_b");
    smol(120, async move {
        let a = Pool::builder(&url_a).max_local_handoffs(0).build().unwrap();
        let b = Pool::new(&url_b).unwrap();
        for _ in 0..20 {
            let held = a.lock(5501).await.unwrap();
            let waiter = smol::spawn({
                let b = b.clone();
                async move { b.lock(5501).await.unwrap() }
            });
            eventually(10, "b waits on the server", || {
                common::lock_pid(5501, false).is_some()
            })
            .await;
            drop(held);
            assert!(
                a.try_lock(5501).await.unwrap().is_none(),
                "a passed the waiting b"
            );
            waiter.await.release().await.unwrap();
        }
    });
}

#[test]
fn a_key_taken_again_before_its_release_went_out_is_handed_over_locally() {
    // The pool's background work (its connections, and with them the
    // releases of dropped guards) runs only when this test runs the
    // executor it gave the pool. So when the holder drops its guard and
    // asks for the key again at once, the release has not gone out: the
    // new caller takes the lock over, ready at its first poll, which no
    // round trip could be. At most `max_local_handoffs` times in a row;
    // then the release goes out and `b`, waiting on the server, gets the
    // key.
    let url_a = url("coalesce_reclaim_a");
    let url_b = url("coalesce_reclaim_b");
    common::with_watchdog(120, move || {
        let executor = Arc::new(async_executor::Executor::new());
        let spawner = executor.clone();
        let a = Pool::builder(&url_a)
            .max_local_handoffs(3)
            .spawner(move |future| spawner.spawn(future).detach())
            .build()
            .unwrap();
        fn run_on<T>(
            executor: &async_executor::Executor<'_>,
            future: impl Future<Output = T>,
        ) -> T {
            futures_lite::future::block_on(executor.run(future))
        }
        let run = |future: Pin<Box<dyn Future<Output = ()> + '_>>| run_on(&executor, future);
        let first_poll = |pool: &Pool| {
            futures_lite::future::block_on(futures_lite::future::poll_once(pool.lock(5502)))
        };
        let mut guard = run_on(&executor, a.lock(5502)).unwrap();
        let holder = common::lock_pid(5502, true).expect("a holds the key");

        let b_holds = Arc::new(AtomicBool::new(false));
        let waiter = std::thread::spawn({
            let b_holds = b_holds.clone();
            move || {
                let b = Pool::new(&url_b).unwrap();
                futures_lite::future::block_on(async {
                    let guard = b.lock(5502).await.unwrap();
                    b_holds.store(true, Ordering::SeqCst);
                    guard.release().await.unwrap();
                });
            }
        });
        run(Box::pin(eventually(10, "b waits on the server", || {
            common::lock_pid(5502, false).is_some()
        })));

        for handoff in 1..=3 {
            drop(guard);
            guard = first_poll(&a)
                .unwrap_or_else(|| panic!("hand-off {handoff} needed a round trip"))
                .unwrap();
            let status = a.status();
            assert_eq!((status.held, status.releasing), (1, 0), "{status:?}");
        }
        assert_eq!(common::lock_pid(5502, true), Some(holder));
        assert!(!b_holds.load(Ordering::SeqCst), "b got in between");

        // A fourth hand-off in a row is one too many: the release goes out.
        drop(guard);
        assert!(
            first_poll(&a).is_none(),
            "more than max_local_handoffs hand-offs in a row"
        );
        run(Box::pin(eventually(10, "b gets the key", || {
            b_holds.load(Ordering::SeqCst)
        })));
        waiter.join().unwrap();
        run(Box::pin(eventually(10, "a is idle", || {
            a.status().is_idle()
        })));
        assert_eq!(advisory_locks("coalesce_reclaim_a"), 0);
    });
}
