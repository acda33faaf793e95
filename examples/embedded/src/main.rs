//! turnlock on bare metal: a Cortex-M3 (thumbv7m-none-eabi) program, run
//! under QEMU's LM3S6965 board by `run.sh`.
//!
//! Two tasks of a tiny round-robin executor take turns on
//!
//! 1. `TURNS`, a `static` [`Lock::new_fifo`]: each task records its turn and
//!    holds the lock across a yield, so the other one is always waiting at
//!    release time. Strict FIFO with direct hand-off means strict
//!    alternation.
//! 2. `COUNTER`, a `static` [`Lock::new`] (the throughput policy): each task
//!    reads the counter, yields, and writes the value plus one. Two holders
//!    at once would lose an update.
//! 3. `KEYED`, a `static` [`KeyedLocks`] with a fixed FNV hasher (built by
//!    the `const` `with_hasher`): each round both tasks lock the same key
//!    and hold it across a yield; the other key stays free.
//!
//! Every lock also has a seat outside it: an atomic count of the tasks
//! inside, which must never exceed one. The program prints what it checked
//! through semihosting and exits with a failure status at the first check
//! that does not hold (or on a panic), with success otherwise. The last line
//! of a good run is `turnlock embedded: all checks passed`.

#![no_std]
#![no_main]

extern crate alloc;

use core::fmt;
use core::future::Future;
use core::hash::{BuildHasher, Hasher};
use core::panic::PanicInfo;
use core::pin::{Pin, pin};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use core::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use embedded_alloc::LlffHeap as Heap;
use turnlock::{KeyedLocks, Lock};

/// Reports a failed check and ends the program with a failure status.
macro_rules! fail {
    ($($arg:tt)*) => {
        $crate::report_failure(format_args!($($arg)*))
    };
}

/// turnlock needs `alloc`: lock waiters and keyed entries live on the heap.
#[global_allocator]
static HEAP: Heap = Heap::empty();
const HEAP_SIZE: usize = 8 * 1024;

const TASKS: usize = 2;
const ROUNDS: usize = 4;
/// The keys of the keyed phase: round `r` uses `KEYS[r % 2]`.
const KEYS: [&str; 2] = ["uart", "flash"];
/// More polls than a correct run needs by far: a bound, not a timing.
const MAX_POLLS: u32 = 1_000;

/// Who held `TURNS`, in order.
struct Log {
    turns: [u8; TASKS * ROUNDS],
    len: usize,
}

impl Log {
    fn push(&mut self, id: u8) {
        self.turns[self.len] = id;
        self.len += 1;
    }
}

static TURNS: Lock<Log> = Lock::new_fifo(Log {
    turns: [0; TASKS * ROUNDS],
    len: 0,
});

/// The counter, and who held it, in order.
struct Counter {
    value: u32,
    log: Log,
}

static COUNTER: Lock<Counter> = Lock::new(Counter {
    value: 0,
    log: Log {
        turns: [0; TASKS * ROUNDS],
        len: 0,
    },
});

/// Counts the tasks inside a critical section, apart from the lock that
/// guards it: entering a seat that is taken is a failure.
struct Seat {
    name: &'static str,
    inside: AtomicU32,
    entries: AtomicU32,
}

impl Seat {
    const fn new(name: &'static str) -> Self {
        Self {
            name,
            inside: AtomicU32::new(0),
            entries: AtomicU32::new(0),
        }
    }

    fn enter(&'static self) -> Inside {
        if self.inside.fetch_add(1, Ordering::AcqRel) != 0 {
            fail!("{}: two holders at once", self.name);
        }
        self.entries.fetch_add(1, Ordering::Relaxed);
        Inside(self)
    }

    fn entries(&self) -> u32 {
        self.entries.load(Ordering::Relaxed)
    }
}

/// A task's stay in a [`Seat`]; leaves it when dropped (before the guard
/// of the lock, which is declared first).
struct Inside(&'static Seat);

impl Drop for Inside {
    fn drop(&mut self) {
        self.0.inside.fetch_sub(1, Ordering::AcqRel);
    }
}

static TURNS_SEAT: Seat = Seat::new("Lock::new_fifo");
static COUNTER_SEAT: Seat = Seat::new("Lock::new");
static KEY_SEATS: [Seat; 2] = [Seat::new("key \"uart\""), Seat::new("key \"flash\"")];

/// The most keys the keyed map held at once.
static MOST_KEYS: AtomicUsize = AtomicUsize::new(0);

/// FNV-1a, 64 bits: a fixed hasher, since keys here come from the program
/// itself, not from an attacker.
#[derive(Clone, Copy, Default)]
struct Fnv;

struct FnvHasher(u64);

impl BuildHasher for Fnv {
    type Hasher = FnvHasher;

    fn build_hasher(&self) -> FnvHasher {
        FnvHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for FnvHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type Keyed = KeyedLocks<&'static str, Fnv>;

/// The per-key locks: a `static`, since `with_hasher` is `const` and the map
/// allocates nothing until a key is first locked.
static KEYED: Keyed = Keyed::with_hasher(Fnv);

/// Returns `Pending` once (waking its task at once), then `Ready`.
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

fn yield_now() -> YieldNow {
    YieldNow(false)
}

async fn task(id: u8, keyed: &Keyed) {
    for _ in 0..ROUNDS {
        let mut log = TURNS.lock().await;
        let _inside = TURNS_SEAT.enter();
        log.push(id);
        yield_now().await;
    }

    for _ in 0..ROUNDS {
        let mut counter = COUNTER.lock().await;
        let _inside = COUNTER_SEAT.enter();
        let read = counter.value;
        yield_now().await;
        counter.value = read + 1;
        counter.log.push(id);
    }

    for round in 0..ROUNDS {
        let key = KEYS[round % 2];
        let _guard = keyed.lock(key).await;
        let _inside = KEY_SEATS[round % 2].enter();
        if !keyed.is_locked(key) || keyed.try_lock(key).is_some() {
            fail!("key {key:?} is held but could be taken");
        }
        let keys = keyed.len();
        if keys == 0 || keys > KEYS.len() {
            fail!("{keys} keys held or awaited, with 2 keys in use");
        }
        MOST_KEYS.fetch_max(keys, Ordering::Relaxed);
        yield_now().await;
    }
}

/// One "ready" flag per task: its waker sets it, the executor clears it
/// before each poll.
static READY: [AtomicBool; TASKS] = [const { AtomicBool::new(true) }; TASKS];
static WAKES: AtomicU32 = AtomicU32::new(0);

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone_waker, wake, wake, drop_waker);

fn clone_waker(flag: *const ()) -> RawWaker {
    RawWaker::new(flag, &VTABLE)
}

fn wake(flag: *const ()) {
    WAKES.fetch_add(1, Ordering::Relaxed);
    // SAFETY: every waker of `VTABLE` is made by `waker`, from a reference to
    // an element of the `static` `READY`, valid for the whole program.
    let flag = unsafe { &*flag.cast::<AtomicBool>() };
    flag.store(true, Ordering::Release);
}

fn drop_waker(_: *const ()) {}

fn waker(task: usize) -> Waker {
    let flag: *const AtomicBool = &READY[task];
    // SAFETY: the data pointer refers to a `static` `AtomicBool`, which
    // every function of `VTABLE` may use from any context; the waker owns
    // nothing, so cloning and dropping it have nothing to do.
    unsafe { Waker::new(flag.cast(), &VTABLE) }
}

/// Polls every task whose flag is set, in turn, until all have finished.
/// Returns the number of polls.
///
/// With no interrupts in this program, nothing can wake a task later: if no
/// task is ready while some are unfinished, a wake-up was lost.
fn run<F: Future<Output = ()>>(mut tasks: [Pin<&mut F>; TASKS]) -> u32 {
    let mut done = [false; TASKS];
    let mut polls = 0;
    loop {
        let mut polled = false;
        for (i, task) in tasks.iter_mut().enumerate() {
            if done[i] || !READY[i].swap(false, Ordering::Acquire) {
                continue;
            }
            polled = true;
            polls += 1;
            if polls > MAX_POLLS {
                fail!("still running after {MAX_POLLS} polls");
            }
            let waker = waker(i);
            done[i] = task
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_ready();
        }
        if done.iter().all(|&done| done) {
            return polls;
        }
        if !polled {
            fail!("no task is ready and not all have finished: a lost wake-up");
        }
    }
}

/// Prints a log of turns as `0 1 0 1 ...`.
struct Turns<'a>(&'a Log);

impl fmt::Display for Turns<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, id) in self.0.turns[..self.0.len].iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{id}")?;
        }
        Ok(())
    }
}

fn report_failure(why: fmt::Arguments<'_>) -> ! {
    hprintln!("FAIL: {}", why);
    exit(debug::EXIT_FAILURE)
}

fn exit(status: debug::ExitStatus) -> ! {
    debug::exit(status);
    // Only reached without a semihosting host to end the program.
    loop {
        cortex_m::asm::wfi();
    }
}

#[entry]
fn main() -> ! {
    // SAFETY: called once, first thing, before anything allocates.
    unsafe {
        embedded_alloc::init!(HEAP, HEAP_SIZE);
    }
    hprintln!(
        "turnlock embedded: {} tasks, {} rounds on each lock, round-robin executor",
        TASKS,
        ROUNDS
    );

    let keyed = &KEYED;
    let polls = run([pin!(task(0, keyed)), pin!(task(1, keyed))]);
    let all = TASKS * ROUNDS;

    let turns = TURNS
        .try_lock()
        .unwrap_or_else(|| fail!("TURNS still held"));
    let alternating = turns
        .turns
        .iter()
        .enumerate()
        .all(|(i, &id)| usize::from(id) == i % 2);
    if turns.len != all || !alternating {
        fail!(
            "Lock::new_fifo: turns {}, not strict alternation",
            Turns(&turns)
        );
    }
    hprintln!(
        "ok: static Lock::new_fifo: turns {} (strict alternation, every release a hand-off)",
        Turns(&turns)
    );

    let counter = COUNTER
        .try_lock()
        .unwrap_or_else(|| fail!("COUNTER still held"));
    if counter.value as usize != all {
        fail!(
            "Lock::new: counter {} after {} read-yield-write increments",
            counter.value,
            all
        );
    }
    hprintln!(
        "ok: static Lock::new: counter {} after {} read-yield-write increments (turns {})",
        counter.value,
        all,
        Turns(&counter.log)
    );

    for seat in [&TURNS_SEAT, &COUNTER_SEAT] {
        if seat.entries() as usize != all {
            fail!("{}: {} turns, not {}", seat.name, seat.entries(), all);
        }
    }
    hprintln!("ok: never two holders of either lock ({} turns each)", all);

    let key_turns: u32 = KEY_SEATS.iter().map(Seat::entries).sum();
    if key_turns as usize != all {
        fail!("keyed: {key_turns} turns, not {all}");
    }
    hprintln!(
        "ok: static KeyedLocks<&str, Fnv>: {} turns on keys {:?}, never two holders of a key, at most {} keys at once",
        key_turns,
        KEYS,
        MOST_KEYS.load(Ordering::Relaxed)
    );
    let left = keyed.len();
    if left != 0 || !keyed.is_empty() {
        fail!("keyed: {left} keys left after every guard dropped");
    }
    hprintln!("ok: KeyedLocks empty at the end (len {left}, is_empty)");

    hprintln!(
        "ok: executor: {} polls, {} wake-ups, none lost; heap in use: {} bytes",
        polls,
        WAKES.load(Ordering::Relaxed),
        HEAP.used()
    );
    hprintln!("turnlock embedded: all checks passed");
    exit(debug::EXIT_SUCCESS)
}

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    fail!("panic: {info}")
}
