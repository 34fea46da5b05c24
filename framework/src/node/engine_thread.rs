//! The engine thread: one OS thread per node that owns the [`Engine`] and runs its steps, one at
//! a time and in the order they were sent, so that their synchronous work (MLS cryptography, and
//! the storage write that ends every step, an fsync on a durable backend) never runs on the async
//! runtime. The async side sends a job and awaits its answer on a oneshot channel, leaving the
//! runtime free meanwhile. See the [module doc](super) for why a thread and not `spawn_blocking`.

use std::convert::Infallible;
use std::sync::mpsc;
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use super::NodeError;
use crate::engine::Engine;

/// A unit of work for the engine thread.
type Job = Box<dyn FnOnce(&mut Engine) + Send>;

/// The engine thread ended before answering: a step (or opening the engine) panicked.
#[derive(Debug)]
pub(super) struct EngineGone;

/// The handle of a node's engine thread. [`stop`](EngineThread::stop) ends and joins it; dropping
/// the handle without stopping does the same, blocking for at most the step in progress.
pub(super) struct EngineThread {
    /// The job queue; dropping it ends the thread once the queued jobs are done.
    jobs: Option<mpsc::Sender<Job>>,
    /// Closed (never sent on) by the thread as its very last action, after the engine is dropped:
    /// awaiting it waits for the thread's end without blocking the runtime.
    exited: Option<oneshot::Receiver<Infallible>>,
    thread: Option<JoinHandle<()>>,
    name: String,
}

impl EngineThread {
    /// Starts the thread, which opens the engine with `open` and then serves jobs; returns once the
    /// engine is open, with what `open` returned beside it. If `open` fails, the thread has ended
    /// and been joined when the error is returned.
    pub(super) async fn start<T: Send + 'static>(
        name: &str,
        open: impl FnOnce() -> Result<(Engine, T), NodeError> + Send + 'static,
    ) -> Result<(EngineThread, T), NodeError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let (opened_tx, opened) = oneshot::channel();
        let (exit_guard, exited) = oneshot::channel::<Infallible>();
        // The default stack (2 MiB, or `RUST_MIN_STACK`): what a tokio worker, where steps ran
        // before, has too.
        let thread = std::thread::Builder::new()
            .name(format!("demls-engine-{}", name.replace('\0', "")))
            .spawn(move || serve(open, opened_tx, queue, exit_guard))
            .map_err(NodeError::Spawn)?;
        let mut this = EngineThread {
            jobs: Some(jobs),
            exited: Some(exited),
            thread: Some(thread),
            name: name.to_owned(),
        };
        match opened.await {
            Ok(Ok(value)) => Ok((this, value)),
            Ok(Err(e)) => {
                this.join().await;
                Err(e)
            }
            // Opening the engine panicked (reported by `join`).
            Err(_) => {
                this.join().await;
                Err(NodeError::Stopped)
            }
        }
    }

    /// Runs `f` on the engine thread after every job sent before it, and waits for its result
    /// without blocking the runtime. Dropping the returned future does not cancel the job: a
    /// step that has been sent runs to its end (its write included); only its result is lost.
    pub(super) async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Engine) -> R + Send + 'static,
    ) -> Result<R, EngineGone> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |engine| {
            let _ = tx.send(f(engine));
        });
        self.jobs
            .as_ref()
            .ok_or(EngineGone)?
            .send(job)
            .map_err(|_| EngineGone)?;
        rx.await.map_err(|_| EngineGone)
    }

    /// Ends the thread once the jobs already sent are done, and joins it: when this returns, the
    /// engine has been dropped, and with it every handle it held on the storage.
    pub(super) async fn stop(mut self) {
        self.join().await;
    }

    async fn join(&mut self) {
        self.jobs = None;
        if let Some(exited) = self.exited.take() {
            // Resolves (with a closed-channel error) when the thread drops its guard.
            let _ = exited.await;
        }
        // The thread has dropped the engine and is returning: joining it does not wait on a step.
        self.join_now();
    }

    /// Joins the thread, blocking until it ends; logs a panic that ended it.
    fn join_now(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        if thread.join().is_err() {
            tracing::error!(node = %self.name, "the engine thread panicked; the node has stopped");
        }
    }
}

impl Drop for EngineThread {
    /// Reached without [`stop`](EngineThread::stop) only when the driver task itself is dropped
    /// (its runtime shut down, or it panicked): the step in progress still finishes its write
    /// before the engine is dropped, so nothing a step reported is lost.
    fn drop(&mut self) {
        self.jobs = None;
        self.join_now();
    }
}

/// The thread's body: open the engine, report, then run jobs until the queue closes.
fn serve<T>(
    open: impl FnOnce() -> Result<(Engine, T), NodeError>,
    opened: oneshot::Sender<Result<T, NodeError>>,
    queue: mpsc::Receiver<Job>,
    exit_guard: oneshot::Sender<Infallible>,
) {
    match open() {
        Ok((mut engine, value)) => {
            if opened.send(Ok(value)).is_ok() {
                while let Ok(job) = queue.recv() {
                    job(&mut engine);
                }
            }
            drop(engine);
        }
        Err(e) => {
            let _ = opened.send(Err(e));
        }
    }
    // Last: the engine is gone (also when a job panics: unwinding drops it first, the guard after).
    drop(exit_guard);
}
