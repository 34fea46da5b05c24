//! From what happens to the node to the contract's events.
//!
//! | de-MLS event | contract event |
//! |---|---|
//! | `group_created` | `conversation_created` (is_outgoing true) |
//! | `joined` | `conversation_created` (is_outgoing false, peer_label = inviter) and `members_changed` |
//! | `epoch_advanced` | `members_changed` (invitees it added stop being pending) |
//! | `fork_resolved` | `members_changed` |
//! | `decision_opened`, `decision_made`, `decision_abandoned` about add / remove / leave | `membership_decision` |
//! | `message_received` | `message_received` (content decoded, logged) |
//! | `removed` | `conversation_left` (reason `left` after this instance's leave, else `removed`) |
//! | an inbox invitation | `invitation_received` (and a join with `auto_accept_invitations`) |
//!
//! Not forwarded (traced only): `join_requested` (the conversation is `joining` in
//! `list_conversations`), `join_request_received`, `vote_requested` (voting is automatic),
//! `voted`, `decision_retried`, `committed`, `misbehaviour`, `delivery_failed`, `rejected`,
//! and decisions about the group's upkeep (steward elections and violations).

use demls::api::{Change, Outcome};
use demls::{Event, GroupId, MemberId};
use serde_json::json;

use crate::emit::emit;
use crate::ids::{self, address, convo_id};
use crate::invite;
use crate::module::Running;
use crate::store::{ConvoMeta, ConvoState, LoggedMessage, PendingInvitation};

fn membership(change: &Change) -> Option<(&'static str, &MemberId)> {
    match change {
        Change::Add { member } => Some(("add", member)),
        Change::Remove { member } => Some(("remove", member)),
        Change::Leave { member } => Some(("leave", member)),
        _ => None,
    }
}

fn decision(group: &GroupId, change: &Change, state: &str) {
    if let Some((kind, member)) = membership(change) {
        emit(
            "membership_decision",
            vec![
                json!(convo_id(group)),
                json!(kind),
                json!(address(member)),
                json!(state),
            ],
        );
    }
}

fn outcome(o: Outcome) -> &'static str {
    match o {
        Outcome::Approved => "approved",
        Outcome::Rejected => "rejected",
        Outcome::NoDecision => "no_decision",
    }
}

/// Emits `conversation_created` once per conversation.
fn announce(r: &Running, convo: &str, outgoing: bool) {
    let meta = r.store().update(
        convo,
        || ConvoMeta::new("", "", ConvoState::Active, ids::now_ms()),
        |m| {
            m.state = ConvoState::Active;
            let first = !m.announced;
            m.announced = true;
            first.then(|| m.clone())
        },
    );
    match meta {
        Ok(Some(m)) => emit(
            "conversation_created",
            vec![
                json!(convo),
                json!(outgoing),
                json!(m.inviter.unwrap_or_default()),
                json!("group"),
                json!(m.name),
                json!(m.description),
            ],
        ),
        Ok(None) => {}
        Err(e) => tracing::error!(%convo, error = %e, "could not record a conversation"),
    }
}

/// Handles one node event.
pub fn node_event(r: &Running, event: Event) {
    match &event {
        Event::GroupCreated { group, .. } => announce(r, &convo_id(group), true),
        Event::Joined { group, .. } => {
            let convo = convo_id(group);
            announce(r, &convo, false);
            emit("members_changed", vec![json!(convo)]);
        }
        Event::EpochAdvanced { group, added, .. } => {
            let convo = convo_id(group);
            let added: Vec<String> = added.iter().map(address).collect();
            if let Err(e) = r.store().update(
                &convo,
                || ConvoMeta::new("", "", ConvoState::Active, ids::now_ms()),
                |m| m.pending.retain(|p| !added.contains(p)),
            ) {
                tracing::error!(%convo, error = %e, "could not update pending members");
            }
            emit("members_changed", vec![json!(convo)]);
        }
        Event::ForkResolved { group, .. } => {
            emit("members_changed", vec![json!(convo_id(group))]);
        }
        Event::DecisionOpened { group, change, .. } => decision(group, change, "open"),
        Event::DecisionMade {
            group,
            change,
            outcome: o,
            ..
        } => decision(group, change, outcome(*o)),
        Event::DecisionAbandoned { group, change, .. } => decision(group, change, "abandoned"),
        Event::MessageReceived {
            group,
            sender,
            payload,
            ..
        } => {
            let Some(content) = crate::content::decode(payload) else {
                return;
            };
            let convo = convo_id(group);
            let timestamp_ms = ids::now_ms();
            let sender = address(sender);
            if let Err(e) = r.store().log(
                &convo,
                LoggedMessage {
                    from_self: false,
                    content: content.clone(),
                    timestamp_ms,
                    sender: Some(sender.clone()),
                },
            ) {
                tracing::error!(%convo, error = %e, "could not log a received message");
            }
            emit(
                "message_received",
                vec![
                    json!(convo),
                    json!(content),
                    json!(timestamp_ms),
                    json!(sender),
                ],
            );
        }
        Event::Removed { group, .. } => {
            let convo = convo_id(group);
            let left = r
                .store()
                .update(
                    &convo,
                    || ConvoMeta::new("", "", ConvoState::Left, ids::now_ms()),
                    |m| {
                        m.state = ConvoState::Left;
                        m.pending.clear();
                        m.leaving
                    },
                )
                .unwrap_or(false);
            emit(
                "conversation_left",
                vec![json!(convo), json!(if left { "left" } else { "removed" })],
            );
        }
        other => tracing::debug!(event = %other.to_json(), "de-MLS event not forwarded"),
    }
}

/// Handles one frame from this instance's inbox.
pub fn inbox_frame(r: &Running, frame: &[u8]) {
    let opened = match invite::open(frame, &r.me) {
        Ok(o) => o,
        Err(e) => {
            tracing::warn!(error = %e, "an inbox frame was dropped");
            return;
        }
    };
    let convo = convo_id(&opened.invitation.group_id);
    let known = r
        .store()
        .convo(&convo)
        .is_some_and(|m| m.state != ConvoState::Left);
    if known {
        tracing::debug!(%convo, "an invitation to a conversation already here was ignored");
        return;
    }
    let pending = PendingInvitation {
        invitation: opened.invitation.to_string(),
        name: opened.name.clone(),
        description: opened.description.clone(),
        inviter: opened.inviter.clone(),
        received_ms: ids::now_ms(),
    };
    if let Err(e) = r.store().add_invitation(&convo, pending) {
        tracing::error!(%convo, error = %e, "could not record an invitation");
        return;
    }
    emit(
        "invitation_received",
        vec![
            json!(convo),
            json!(opened.inviter),
            json!(opened.name),
            json!(opened.description),
        ],
    );
    if r.auto_accept {
        if let Err(e) = crate::handlers::accept(r, &convo) {
            tracing::warn!(%convo, error = %e, "could not accept an invitation automatically");
        }
    }
}
