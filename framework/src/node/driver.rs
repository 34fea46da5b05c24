//! The driver: the node's tokio task. It owns the transport, the timer and the event queue, takes
//! one input at a time (a request, a network message or a due deadline), has the engine thread
//! step on it, and carries out the step's output.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::EventCallback;
use super::command::{Input, Request};
use super::engine_thread::EngineThread;
use crate::clock::Clock;
use crate::engine::{EngineError, GroupEvent, Output};
use crate::transport::{Transport, TransportError};
use crate::types::Timestamp;

/// How long to sleep when the engine has no deadline.
const IDLE_WAIT: Duration = Duration::from_secs(3600);

/// What one step hands back to the driver.
struct Stepped {
    /// The step's output, or why a network or timer step failed.
    result: Result<Output, EngineError>,
    /// The engine's next deadline after the step.
    deadline: Option<Timestamp>,
}

/// The node's task.
pub(super) struct Driver {
    pub(super) engine: EngineThread,
    pub(super) transport: Arc<dyn Transport>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) events: mpsc::Sender<GroupEvent>,
    pub(super) callback: Arc<Mutex<Option<EventCallback>>>,
    pub(super) name: String,
    /// The engine's next deadline, as of the last step.
    pub(super) deadline: Option<Timestamp>,
}

impl Driver {
    pub(super) async fn run(mut self, mut requests: mpsc::Receiver<Request>) {
        let mut shutdown: Option<oneshot::Sender<()>> = None;
        loop {
            let wait = self
                .deadline
                .map(|d| Duration::from_millis(d.since(self.clock.now())))
                .unwrap_or(IDLE_WAIT);
            let input = tokio::select! {
                request = requests.recv() => match request {
                    None => break,
                    Some(Request::Shutdown(done)) => {
                        shutdown = Some(done);
                        break;
                    }
                    Some(Request::Command(command)) => Input::Command(command),
                },
                inbound = self.transport.recv() => match inbound {
                    Ok(message) => Input::Inbound(message),
                    Err(TransportError::Closed) => break,
                    Err(e) => {
                        tracing::warn!(node = %self.name, error = %e, "transport receive failed");
                        continue;
                    }
                },
                () = tokio::time::sleep(wait) => Input::Tick,
            };
            // The step runs on the engine thread; this task (and the runtime) waits for it
            // without blocking. One step at a time: the next input is taken only once this
            // step's output has been carried out.
            let clock = self.clock.clone();
            let stepped = self
                .engine
                .run(move |engine| Stepped {
                    result: input.step(engine, clock.now()),
                    deadline: engine.next_deadline(),
                })
                .await;
            let Ok(Stepped { result, deadline }) = stepped else {
                // The engine thread is gone (a step panicked): the node cannot go on.
                break;
            };
            self.deadline = deadline;
            let output = result.unwrap_or_else(|e| {
                tracing::error!(node = %self.name, error = %e, "engine step failed");
                Output::default()
            });
            if !self.perform(output).await {
                break;
            }
        }
        if shutdown.is_some() {
            self.transport.close().await;
        }
        // Every step sent has been answered, so the engine thread ends at once; once it is
        // joined the engine has been dropped and the storage released.
        let Driver { engine, name, .. } = self;
        engine.stop().await;
        tracing::info!(node = %name, "node stopped");
        if let Some(done) = shutdown {
            let _ = done.send(());
        }
    }

    /// Carries out an engine output; false when the application side is gone.
    async fn perform(&mut self, output: Output) -> bool {
        let Output {
            subscribe,
            publish,
            unsubscribe,
            events,
            silent,
        } = output;
        for why in silent {
            tracing::trace!(node = %self.name, %why, "input passed over");
        }
        let mut extra = Vec::new();
        for topic in subscribe {
            if let Err(e) = self.transport.subscribe(&topic).await {
                tracing::warn!(node = %self.name, %topic, error = %e, "subscribe failed");
            }
        }
        for message in publish {
            if let Err(e) = self
                .transport
                .publish(&message.topic, message.payload)
                .await
            {
                tracing::warn!(node = %self.name, topic = %message.topic, error = %e, "publish failed");
                extra.push(GroupEvent::PublishFailed {
                    topic: message.topic.as_str().to_owned(),
                    detail: e.to_string(),
                });
            }
        }
        for topic in unsubscribe {
            if let Err(e) = self.transport.unsubscribe(&topic).await {
                tracing::warn!(node = %self.name, %topic, error = %e, "unsubscribe failed");
            }
        }
        for event in events.into_iter().chain(extra) {
            let event = match self.callback.lock() {
                Ok(slot) => match slot.as_ref() {
                    Some(callback) => {
                        callback(event);
                        continue;
                    }
                    None => event,
                },
                Err(_) => event,
            };
            if self.events.send(event).await.is_err() {
                return false;
            }
        }
        true
    }
}
