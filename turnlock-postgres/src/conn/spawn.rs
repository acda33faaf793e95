//! Who drives a pool's background futures: the crate's own driver thread,
//! or the application's runtime through [`Builder::spawner`](crate::Builder::spawner).

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use super::BoxFuture;

/// The function a [`Builder::spawner`](crate::Builder::spawner) supplies.
pub(crate) type SpawnFn = dyn Fn(BoxFuture<()>) + Send + Sync;

/// Runs the futures that must make progress whether or not anyone awaits
/// them: connections (whose tasks also finish the releases of dropped
/// guards, `riders.rs`), cancellation of abandoned waits, sessions opened
/// for callers that gave up.
#[derive(Clone)]
pub(crate) struct Spawner {
    custom: Option<Arc<SpawnFn>>,
}

impl Spawner {
    /// The crate's own driver thread.
    pub(crate) fn driver_thread() -> Self {
        Spawner { custom: None }
    }

    /// The application's spawner.
    pub(crate) fn custom(spawn: Arc<SpawnFn>) -> Self {
        Spawner {
            custom: Some(spawn),
        }
    }

    /// Runs `future` to completion, on the application's spawner if there
    /// is one. A future that spawner does not finish, because it panicked
    /// (`tokio::spawn` outside a runtime's context), dropped the future
    /// (a runtime that has shut down) or stopped polling it halfway (a
    /// runtime shutting down), is finished on the driver thread instead:
    /// the pool's background work (releasing a lock after a guard's drop,
    /// cancelling an abandoned wait, driving a connection) is never lost.
    pub(crate) fn spawn(&self, future: impl Future<Output = ()> + Send + 'static) {
        match &self.custom {
            None => spawn_on_driver_thread(Box::pin(future)),
            Some(spawn) => {
                let relay = Relay {
                    future: Some(Box::pin(future)),
                };
                // The relay is dropped as the panic unwinds and hands the
                // future over; the panic itself stays here, out of the
                // caller (often a guard's `Drop`).
                let _ = std::panic::catch_unwind(AssertUnwindSafe(|| spawn(Box::pin(relay))));
            }
        }
    }
}

/// A future given to the application's spawner, which finishes it on the
/// driver thread if it is dropped unfinished.
struct Relay {
    /// `None` once finished, or while it is being polled (so that a future
    /// that panics inside `poll` is never polled again elsewhere).
    future: Option<BoxFuture<()>>,
}

impl Future for Relay {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(mut future) = self.future.take() else {
            return Poll::Ready(());
        };
        match future.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(()),
            Poll::Pending => {
                self.future = Some(future);
                Poll::Pending
            }
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(future) = self.future.take() {
            spawn_on_driver_thread(future);
        }
    }
}

impl fmt::Debug for Spawner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.custom {
            None => "the driver thread",
            Some(_) => "a custom spawner",
        })
    }
}

/// Runs `future` on the driver thread: one background thread per process,
/// named `turnlock-postgres`, running an `async-executor`, started on first
/// use. It serves every pool that was given no spawner of its own, whatever
/// runtime (or none) the rest of the program uses.
fn spawn_on_driver_thread(future: BoxFuture<()>) {
    static EXECUTOR: OnceLock<Arc<async_executor::Executor<'static>>> = OnceLock::new();
    let executor = EXECUTOR.get_or_init(|| {
        let executor = Arc::new(async_executor::Executor::new());
        let runner = executor.clone();
        std::thread::Builder::new()
            .name("turnlock-postgres".into())
            .spawn(move || async_io::block_on(runner.run(std::future::pending::<()>())))
            .expect("failed to start the turnlock-postgres driver thread");
        executor
    });
    // A panic ends its own task only, never the shared driver thread.
    let future = futures_lite::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(future));
    executor
        .spawn(async move {
            let _ = future.await;
        })
        .detach();
}
