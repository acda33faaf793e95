//! Who drives a pool's background futures: the crate's own driver thread,
//! or the application's runtime through [`Builder::spawner`](crate::Builder::spawner).

use std::fmt;
use std::future::Future;
use std::sync::{Arc, OnceLock};

use super::BoxFuture;

/// The function a [`Builder::spawner`](crate::Builder::spawner) supplies.
pub(crate) type SpawnFn = dyn Fn(BoxFuture<()>) + Send + Sync;

/// Runs the futures that must make progress whether or not anyone awaits
/// them: connections, releases after a guard's drop, cancellation of
/// abandoned waits, sessions opened for callers that gave up.
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

    pub(crate) fn spawn(&self, future: impl Future<Output = ()> + Send + 'static) {
        match &self.custom {
            None => spawn_on_driver_thread(Box::pin(future)),
            Some(spawn) => spawn(Box::pin(future)),
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
