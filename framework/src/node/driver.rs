//! The driver: the node's tokio task. It owns the transport, the timer and the event queue, takes
//! one input at a time (a request, a network message or a due deadline) — or, for network
//! messages, every one already waiting, up to a bound — has the engine thread step on each, and
//! carries out the steps' outputs in order.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::EventCallback;
use super::command::{Input, Request};
use super::engine_thread::EngineThread;
use super::history::History;
use crate::api::{Event, Message};
use crate::clock::Clock;
use crate::engine::{EngineError, GroupEvent, Output};
use crate::transport::{Transport, TransportError};
use crate::types::Timestamp;

/// How long to sleep when the engine has no deadline.
const IDLE_WAIT: Duration = Duration::from_secs(3600);

/// At most this many network messages already waiting in the transport go to the engine
/// thread in one hand-off (each still its own step). A hand-off costs two thread wake-ups,
/// as much as a small step itself; under a burst of votes, batching keeps that cost from
/// doubling the node's CPU, and the bound keeps a batch's outputs from waiting long.
const MAX_BATCH: usize = 64;

/// What one hand-off of steps gives back to the driver.
struct Stepped {
    /// Each step's output, or why a network or timer step failed, in input order.
    results: Vec<Result<Output, EngineError>>,
    /// The engine's next deadline after the step.
    deadline: Option<Timestamp>,
}

/// The node's task.
pub(super) struct Driver {
    pub(super) engine: EngineThread,
    pub(super) transport: Arc<dyn Transport>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) events: mpsc::Sender<Event>,
    pub(super) callback: Arc<Mutex<Option<EventCallback>>>,
    pub(super) history: Arc<Mutex<History>>,
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
            let mut inputs = vec![input];
            if matches!(inputs[0], Input::Inbound(_)) {
                self.take_ready_inbound(&mut inputs).await;
            }
            // The steps run on the engine thread; this task (and the runtime) waits for them
            // without blocking. Each input is its own step, in arrival order, and the outputs
            // are carried out in the same order before the next input is taken.
            let clock = self.clock.clone();
            let stepped = self
                .engine
                .run(move |engine| {
                    let results = inputs
                        .into_iter()
                        .map(|input| input.step(engine, clock.now()))
                        .collect();
                    Stepped {
                        results,
                        deadline: engine.next_deadline(),
                    }
                })
                .await;
            let Ok(Stepped { results, deadline }) = stepped else {
                // The engine thread is gone (a step panicked): the node cannot go on.
                break;
            };
            self.deadline = deadline;
            let mut open = true;
            for result in results {
                let output = result.unwrap_or_else(|e| {
                    tracing::error!(node = %self.name, error = %e, "engine step failed");
                    Output::default()
                });
                if !self.perform(output).await {
                    open = false;
                    break;
                }
            }
            if !open {
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

    /// Appends the network messages the transport already holds (up to [`MAX_BATCH`] in all),
    /// without waiting for more. `Transport::recv` is cancel-safe, so a receive that is not
    /// ready is dropped without losing anything.
    async fn take_ready_inbound(&self, inputs: &mut Vec<Input>) {
        while inputs.len() < MAX_BATCH {
            let ready = tokio::select! {
                biased;
                inbound = self.transport.recv() => Some(inbound),
                () = std::future::ready(()) => None,
            };
            match ready {
                Some(Ok(message)) => inputs.push(Input::Inbound(message)),
                // A closed transport stays closed: the main loop's next receive sees it.
                Some(Err(TransportError::Closed)) | None => break,
                Some(Err(e)) => {
                    tracing::warn!(node = %self.name, error = %e, "transport receive failed");
                    break;
                }
            }
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
            if let GroupEvent::MessageReceived {
                group_id,
                sender,
                message_id,
                payload,
                epoch,
                ..
            } = &event
                && let Ok(mut history) = self.history.lock()
            {
                history.record(Message {
                    group: group_id.clone(),
                    sender: *sender,
                    message_id: message_id.clone(),
                    payload: payload.clone(),
                    epoch: *epoch,
                    at_ms: self.clock.now().0,
                });
            }
            let event = Event::from(event);
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
