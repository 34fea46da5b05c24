//! Engine events as one-line JSON objects (the stable part a script or test reads).

use demls::engine::{GroupEvent, ProposalAction};
use demls::{GroupId, Verdict};
use serde_json::{Value, json};

fn group(g: &GroupId) -> String {
    String::from_utf8_lossy(g.as_bytes()).into_owned()
}

fn action(a: &ProposalAction) -> Value {
    match a {
        ProposalAction::Add { member } => json!({"add": member.to_string()}),
        ProposalAction::Remove { member } => json!({"remove": member.to_string()}),
        ProposalAction::Leave { member } => json!({"leave": member.to_string()}),
        other => json!({"other": format!("{other:?}")}),
    }
}

/// The JSON line for `event`, or `None` for events not worth a line.
pub fn to_json(event: &GroupEvent) -> Option<Value> {
    Some(match event {
        GroupEvent::GroupCreated { group_id, epoch } => {
            json!({"event": "group_created", "group": group(group_id), "epoch": epoch})
        }
        GroupEvent::JoinRequested { group_id, .. } => {
            json!({"event": "join_requested", "group": group(group_id)})
        }
        GroupEvent::Joined {
            group_id,
            epoch,
            members,
        } => {
            json!({"event": "joined", "group": group(group_id), "epoch": epoch, "members": members})
        }
        GroupEvent::ProposalDecided {
            group_id,
            action: a,
            outcome,
            yes,
            no,
            ..
        } => json!({
            "event": "decided",
            "group": group(group_id),
            "action": action(a),
            "outcome": match outcome { Verdict::Yes => "yes", Verdict::No => "no", Verdict::Failed => "failed" },
            "yes": yes,
            "no": no,
        }),
        GroupEvent::EpochAdvanced {
            group_id,
            epoch,
            added,
            removed,
            members,
            authenticator,
            ..
        } => json!({
            "event": "epoch",
            "group": group(group_id),
            "epoch": epoch,
            "members": members,
            "added": added.iter().map(|m| m.to_string()).collect::<Vec<_>>(),
            "removed": removed.iter().map(|m| m.to_string()).collect::<Vec<_>>(),
            "authenticator": hex::encode(authenticator),
        }),
        GroupEvent::MessageReceived {
            group_id,
            sender,
            payload,
            epoch,
            ..
        } => json!({
            "event": "message",
            "group": group(group_id),
            "sender": sender.to_string(),
            "text": String::from_utf8_lossy(payload),
            "epoch": epoch,
        }),
        GroupEvent::Removed {
            group_id, epoch, ..
        } => {
            json!({"event": "removed", "group": group(group_id), "epoch": epoch})
        }
        GroupEvent::PublishFailed { topic, detail } => {
            json!({"event": "publish_failed", "topic": topic, "detail": detail})
        }
        GroupEvent::Rejected { reason, detail, .. } => {
            json!({"event": "rejected", "reason": format!("{reason:?}"), "detail": detail})
        }
        _ => return None,
    })
}
