//! The application message history: every message this member sent or received, written to
//! [`Space::Messages`] by the very step that sent or delivered it.
//!
//! Writing it in the step's own batch is what makes it crash-proof: delivering a message
//! advances the MLS secret tree (the key is deleted), so a history kept by the application in
//! a write of its own would lose the message for good if the process died between the two.
//! Here the message is in the history exactly when the step that consumed its key committed,
//! and a copy arriving again after a restart (a re-send, a catch-up answer) is recognised and
//! not delivered twice.
//!
//! Key layout: `h ‖ len(group id) ‖ group id ‖ message id`; value: a postcard
//! [`LoggedMessage`]. The history is kept when the member leaves or is removed (it is the
//! application's record, not group state).

use serde::{Deserialize, Serialize};

use super::records::{decode, encode};
use super::step::Step;
use crate::storage::{Space, Storage, StorageError};
use crate::types::{Epoch, GroupId, MemberId, Timestamp};

/// One application message in a member's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedMessage {
    /// The sender-chosen message id.
    pub message_id: Vec<u8>,
    /// Who sent it (this member for its own messages).
    pub sender: MemberId,
    /// The payload.
    pub payload: Vec<u8>,
    /// The epoch it was sent (or, for a re-send, re-sent) in.
    pub epoch: Epoch,
    /// When this member sent or received it.
    pub at: Timestamp,
}

fn prefix(group_id: &GroupId) -> Vec<u8> {
    let gid = group_id.as_bytes();
    let mut key = Vec::with_capacity(gid.len() + 2 + 16);
    key.push(b'h');
    key.push(gid.len() as u8);
    key.extend_from_slice(gid);
    key
}

fn key(group_id: &GroupId, message_id: &[u8]) -> Vec<u8> {
    let mut key = prefix(group_id);
    key.extend_from_slice(message_id);
    key
}

/// Adds `message` to the history of `group_id` in this step's batch.
pub(crate) fn record(step: &Step<'_>, group_id: &GroupId, message: &LoggedMessage) {
    step.txn.put(
        Space::Messages,
        key(group_id, &message.message_id),
        encode(message),
    );
}

/// Whether message `message_id` of `group_id` is in the history (committed or in this step).
pub(crate) fn contains(
    step: &Step<'_>,
    group_id: &GroupId,
    message_id: &[u8],
) -> Result<bool, StorageError> {
    Ok(step
        .txn
        .get(Space::Messages, &key(group_id, message_id))?
        .is_some())
}

/// The history of `group_id` in `storage`, oldest first (ties by message id).
pub(crate) fn read(
    storage: &dyn Storage,
    group_id: &GroupId,
) -> Result<Vec<LoggedMessage>, StorageError> {
    let mut messages = storage
        .scan_prefix(Space::Messages, &prefix(group_id))?
        .into_iter()
        .map(|(_, value)| decode::<LoggedMessage>("logged message", &value))
        .collect::<Result<Vec<_>, _>>()?;
    messages.sort_by(|a, b| (a.at, &a.message_id).cmp(&(b.at, &b.message_id)));
    Ok(messages)
}

/// This member's own messages of `group_id` first recorded in `epoch`, oldest first, at most
/// the newest `limit`: what a restarted member sends again, since the publications of its last
/// steps before the crash may never have reached the transport.
pub(crate) fn own_in_epoch(
    txn: &crate::txn::Txn<'_>,
    group_id: &GroupId,
    me: MemberId,
    epoch: Epoch,
    limit: usize,
) -> Result<Vec<LoggedMessage>, StorageError> {
    let mut own = Vec::new();
    for (_, value) in txn.scan_prefix(Space::Messages, &prefix(group_id))? {
        let message: LoggedMessage = decode("logged message", &value)?;
        if message.sender == me && message.epoch == epoch {
            own.push(message);
        }
    }
    own.sort_by(|a, b| (a.at, &a.message_id).cmp(&(b.at, &b.message_id)));
    let skip = own.len().saturating_sub(limit);
    Ok(own.split_off(skip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_keys_of_one_group_never_prefix_another_groups() {
        let a = GroupId::new(b"ab".to_vec()).unwrap();
        let b = GroupId::new(b"abc".to_vec()).unwrap();
        assert!(!key(&b, b"x").starts_with(&prefix(&a)));
        assert!(key(&a, b"x").starts_with(&prefix(&a)));
    }
}
