//! What the handle asks of the driver, and the engine step each input becomes.

use tokio::sync::oneshot;

use super::NodeError;
use crate::engine::{Engine, EngineError, GroupSummary, Output, Submission};
use crate::invitation::Invitation;
use crate::transport::Inbound;
use crate::types::{Epoch, GroupId, MemberId, ProposalId, Timestamp};

/// Where the answer to an API call goes.
pub(super) type Reply<T> = oneshot::Sender<Result<T, NodeError>>;

/// A message from a [`Node`](super::Node) handle to its driver.
pub(super) enum Request {
    /// An API call, answered by an engine step.
    Command(Command),
    /// Stop the node; answered once it has stopped.
    Shutdown(oneshot::Sender<()>),
}

/// An API call of the handle.
pub(super) enum Command {
    CreateGroup(GroupId, Reply<()>),
    Join(GroupId, Reply<()>),
    JoinInvited(Invitation, Reply<()>),
    Invitation(GroupId, Reply<Invitation>),
    /// Replies with the message id and the epoch it was sent in.
    Send(GroupId, Vec<u8>, Reply<(Vec<u8>, Epoch)>),
    ProposeAdd(GroupId, Vec<u8>, Reply<Submission>),
    ProposeRemove(GroupId, MemberId, Reply<Submission>),
    Leave(GroupId, Reply<Submission>),
    Vote(GroupId, ProposalId, bool, Reply<()>),
    Summary(GroupId, oneshot::Sender<Option<GroupSummary>>),
    Groups(oneshot::Sender<Vec<GroupId>>),
}

/// One input of the engine: each becomes exactly one step on the engine thread.
pub(super) enum Input {
    /// An API call.
    Command(Command),
    /// A message from the network.
    Inbound(Inbound),
    /// A deadline has passed.
    Tick,
}

impl Input {
    /// Runs the step. A command's result goes to its caller right away (before the output is
    /// carried out); a failed network or timer step is returned for the driver to log.
    pub(super) fn step(self, engine: &mut Engine, now: Timestamp) -> Result<Output, EngineError> {
        match self {
            Input::Command(command) => Ok(command.run(engine, now)),
            Input::Inbound(message) => engine.handle(&message, now),
            Input::Tick => engine.tick(now),
        }
    }
}

impl Command {
    fn run(self, engine: &mut Engine, now: Timestamp) -> Output {
        fn reply<T>(tx: Reply<T>, result: Result<(T, Output), EngineError>) -> Output {
            match result {
                Ok((value, out)) => {
                    let _ = tx.send(Ok(value));
                    out
                }
                Err(e) => {
                    let _ = tx.send(Err(e.into()));
                    Output::default()
                }
            }
        }
        match self {
            Command::CreateGroup(gid, tx) => {
                reply(tx, engine.create_group(gid, now).map(|o| ((), o)))
            }
            Command::Join(gid, tx) => reply(tx, engine.request_join(gid, now).map(|o| ((), o))),
            Command::JoinInvited(invitation, tx) => reply(
                tx,
                engine.join_by_invitation(&invitation, now).map(|o| ((), o)),
            ),
            Command::Invitation(gid, tx) => {
                reply(tx, engine.invitation(&gid).map(|i| (i, Output::default())))
            }
            Command::Send(gid, payload, tx) => {
                let sent = engine.send_message(&gid, &payload, now).map(|(id, out)| {
                    let epoch = engine.epoch(&gid).unwrap_or_default();
                    ((id, epoch), out)
                });
                reply(tx, sent)
            }
            Command::ProposeAdd(gid, kp, tx) => reply(tx, engine.propose_add(&gid, &kp, now)),
            Command::ProposeRemove(gid, member, tx) => {
                reply(tx, engine.propose_remove(&gid, member, now))
            }
            Command::Leave(gid, tx) => reply(tx, engine.leave(&gid, now)),
            Command::Vote(gid, id, yes, tx) => {
                reply(tx, engine.vote(&gid, id, yes, now).map(|o| ((), o)))
            }
            Command::Summary(gid, tx) => {
                let _ = tx.send(engine.group_summary(&gid));
                Output::default()
            }
            Command::Groups(tx) => {
                let _ = tx.send(engine.groups());
                Output::default()
            }
        }
    }
}
