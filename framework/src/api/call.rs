//! One entry point over every operation: a method name and a JSON object of arguments in, a
//! JSON result (or an [`ApiError`]) out. This is what the C API's `demls_node_call` and hosts
//! that speak JSON (a Logos Core module, the CLI) drive a node with. Method names are the
//! [`Node`] methods' names; arguments and results are in the canonical JSON form (byte strings
//! in base64). `specs/api.md` lists every method.

use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::b64;
use super::error::{ApiError, ErrorCode};
use crate::config::Slot;
use crate::invitation::Invitation;
use crate::node::Node;
use crate::types::{GroupId, MemberId, ProposalId};

/// Every method [`call`] knows, in the order `specs/api.md` documents them.
pub const METHODS: &[&str] = &[
    "status",
    "backends",
    "create_group",
    "join_group",
    "join_by_invitation",
    "invitation",
    "groups",
    "group",
    "propose_add",
    "propose_remove",
    "leave",
    "vote",
    "send",
    "history",
    "next_event",
];

/// The most an event wait through [`call`] may last (a longer `timeout_ms` is refused).
pub const MAX_EVENT_WAIT_MS: u64 = 60_000;

/// Messages `history` returns when the call names no `limit`.
pub const DEFAULT_HISTORY_LIMIT: usize = 100;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupArg {
    #[serde(with = "b64::one")]
    group: GroupId,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InvitationArg {
    invitation: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddArg {
    #[serde(with = "b64::one")]
    group: GroupId,
    #[serde(with = "b64::one")]
    key_package: Vec<u8>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RemoveArg {
    #[serde(with = "b64::one")]
    group: GroupId,
    #[serde(with = "b64::one")]
    member: MemberId,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VoteArg {
    #[serde(with = "b64::one")]
    group: GroupId,
    #[serde(with = "b64::one")]
    decision: ProposalId,
    approve: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendArg {
    #[serde(with = "b64::one")]
    group: GroupId,
    #[serde(with = "b64::one")]
    payload: Vec<u8>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryArg {
    #[serde(with = "b64::one")]
    group: GroupId,
    #[serde(default)]
    limit: Option<usize>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct EventArg {
    #[serde(default)]
    timeout_ms: u64,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct NoArg {}

fn args<T: DeserializeOwned>(method: &str, args: &Value) -> Result<T, ApiError> {
    // A method without arguments accepts `null` as well as `{}`.
    let args = if args.is_null() { &json!({}) } else { args };
    T::deserialize(args).map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidArgument,
            format!("arguments of {method}: {e}"),
        )
    })
}

fn to_value<T: serde::Serialize>(value: T) -> Result<Value, ApiError> {
    serde_json::to_value(value).map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))
}

/// Runs `method` with `args` (a JSON object; `null` for none) on `node`.
pub async fn call(node: &Node, method: &str, args_json: &Value) -> Result<Value, ApiError> {
    let a = args_json;
    match method {
        "status" => {
            args::<NoArg>(method, a)?;
            to_value(node.status().await)
        }
        "backends" => {
            args::<NoArg>(method, a)?;
            Ok(backends())
        }
        "create_group" => {
            let GroupArg { group } = args(method, a)?;
            node.create_group(group.as_bytes()).await?;
            Ok(Value::Null)
        }
        "join_group" => {
            let GroupArg { group } = args(method, a)?;
            node.join_group(group.as_bytes()).await?;
            Ok(Value::Null)
        }
        "join_by_invitation" => {
            let InvitationArg { invitation } = args(method, a)?;
            let invitation: Invitation = invitation
                .parse()
                .map_err(|e| ApiError::new(ErrorCode::InvalidInvitation, format!("{e}")))?;
            node.join_by_invitation(&invitation).await?;
            Ok(Value::Null)
        }
        "invitation" => {
            let GroupArg { group } = args(method, a)?;
            let invitation = node.invitation(group.as_bytes()).await?;
            Ok(json!({ "invitation": invitation.to_string() }))
        }
        "groups" => {
            args::<NoArg>(method, a)?;
            let groups = node.groups().await?;
            Ok(Value::Array(
                groups
                    .iter()
                    .map(|g| Value::String(b64::encode(g.as_bytes())))
                    .collect(),
            ))
        }
        "group" => {
            let GroupArg { group } = args(method, a)?;
            to_value(node.group(group.as_bytes()).await?)
        }
        "propose_add" => {
            let AddArg { group, key_package } = args(method, a)?;
            to_value(node.propose_add(group.as_bytes(), &key_package).await?)
        }
        "propose_remove" => {
            let RemoveArg { group, member } = args(method, a)?;
            to_value(
                node.propose_remove(group.as_bytes(), member.as_bytes())
                    .await?,
            )
        }
        "leave" => {
            let GroupArg { group } = args(method, a)?;
            to_value(node.leave(group.as_bytes()).await?)
        }
        "vote" => {
            let VoteArg {
                group,
                decision,
                approve,
            } = args(method, a)?;
            node.vote(group.as_bytes(), decision.as_bytes(), approve)
                .await?;
            Ok(Value::Null)
        }
        "send" => {
            let SendArg { group, payload } = args(method, a)?;
            let id = node.send(group.as_bytes(), &payload).await?;
            Ok(json!({ "message_id": b64::encode(&id) }))
        }
        "history" => {
            let HistoryArg { group, limit } = args(method, a)?;
            to_value(node.history(group.as_bytes(), limit.unwrap_or(DEFAULT_HISTORY_LIMIT))?)
        }
        "next_event" => {
            let EventArg { timeout_ms } = args(method, a)?;
            if timeout_ms > MAX_EVENT_WAIT_MS {
                return Err(ApiError::new(
                    ErrorCode::InvalidArgument,
                    format!("timeout_ms above {MAX_EVENT_WAIT_MS}"),
                ));
            }
            let event = if timeout_ms == 0 {
                node.try_next_event()
            } else {
                node.next_event_timeout(Duration::from_millis(timeout_ms))
                    .await
            };
            to_value(event)
        }
        other => Err(ApiError::new(
            ErrorCode::UnknownMethod,
            format!("unknown method {other:?} (known: {})", METHODS.join(", ")),
        )),
    }
}

/// The registered backends by slot: `{"transport": [...], "storage": [...], "consensus": [...],
/// "steward": [...]}`.
pub fn backends() -> Value {
    let list = |slot| Value::from(crate::registry::available(slot));
    json!({
        "transport": list(Slot::Transport),
        "storage": list(Slot::Storage),
        "consensus": list(Slot::Consensus),
        "steward": list(Slot::Steward),
    })
}
