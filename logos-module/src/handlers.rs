//! The bodies of the contract's methods, over the de-MLS API. Each takes the checked
//! positional arguments and answers the method's value or a [`ModuleError`] (which
//! [`crate::dispatch`] puts in a `result` or an error object).

use demls::Invitation;
use demls::api::{ApiError, ChangeRequest, ErrorCode};
use serde_json::{Value, json};

use crate::config::DemlsConfig;
use crate::error::ModuleError;
use crate::ids::{self, address, convo_id, group_of, member_of};
use crate::module::{self, Running};
use crate::store::{ConvoMeta, ConvoState, LoggedMessage};
use crate::table::Args;
use crate::{content, emit, invite};

/// `init(config) -> result`: value = this instance's address.
pub fn init(a: &Args<'_>) -> Result<Value, ModuleError> {
    let config = DemlsConfig::from_arg(a.value(0))?;
    Ok(json!(module::init(config)?))
}

/// `shutdown() -> result`: stops the node (nothing to do before init).
pub fn shutdown(_: &Args<'_>) -> Result<Value, ModuleError> {
    if let Some(s) = module::begin_shutdown() {
        s.finish();
    }
    Ok(Value::Null)
}

/// `health() -> bool`: always true, no lock.
pub fn health(_: &Args<'_>) -> Result<Value, ModuleError> {
    Ok(Value::Bool(true))
}

/// `status() -> Status`.
pub fn status(_: &Args<'_>) -> Result<Value, ModuleError> {
    let Ok(r) = module::running() else {
        return Ok(json!({
            "convo_count": 0,
            "delivery_state": "stopped",
            "detail": "not initialised",
            "address": "",
            "initialized": false,
        }));
    };
    let (state, detail) = r.delivery.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let convo_count = r
        .store()
        .convos()
        .values()
        .filter(|m| m.state != ConvoState::Left)
        .count();
    Ok(json!({
        "convo_count": convo_count,
        "delivery_state": state,
        "detail": detail,
        "address": r.address,
        "initialized": true,
    }))
}

/// `get_address() -> tstr`.
pub fn get_address(_: &Args<'_>) -> Result<Value, ModuleError> {
    Ok(json!(module::running()?.address))
}

/// The group of a conversation this instance is a member of.
fn member_group(r: &Running, convo: &str) -> Result<demls::GroupId, ModuleError> {
    let group = group_of(convo)?;
    match r.block(r.node.group(group.as_bytes()))? {
        Some(_) => Ok(group),
        None => Err(ModuleError::UnknownConversation(convo.to_owned())),
    }
}

/// `create_group_conversation(name, desc) -> result`: value = the convo_id.
pub fn create_group_conversation(a: &Args<'_>) -> Result<Value, ModuleError> {
    let r = module::running()?;
    let group = ids::new_group_id()?;
    let convo = convo_id(&group);
    let (name, desc) = (a.text(0), a.text(1));
    // Recorded first: the group_created event that follows reads it.
    r.store().update(
        &convo,
        || ConvoMeta::new(name, desc, ConvoState::Active, ids::now_ms()),
        |_| (),
    )?;
    if let Err(e) = r.block(r.node.create_group(group.as_bytes())) {
        r.store().forget(&convo)?;
        return Err(e.into());
    }
    Ok(json!(convo))
}

/// `add_group_member(convo_id, peer_address) -> result`: publishes a signed invitation to
/// the peer's inbox and remembers the peer as pending.
pub fn add_group_member(a: &Args<'_>) -> Result<Value, ModuleError> {
    let r = module::running()?;
    let convo = a.text(0).to_ascii_lowercase();
    let peer = member_of(a.text(1))?;
    let group = member_group(&r, &convo)?;
    if peer == r.me {
        return Err(ModuleError::Api(ApiError::new(
            ErrorCode::InvalidRequest,
            "cannot invite oneself",
        )));
    }
    let invitation = r.block(r.node.invitation(group.as_bytes()))?;
    let (name, desc) = r
        .store()
        .convo(&convo)
        .map(|m| (m.name.clone(), m.description.clone()))
        .unwrap_or_default();
    let frame = invite::seal(&r.identity, &invitation, &name, &desc, &peer);
    r.block(r.network.publish(&ids::inbox_topic(&peer), frame))
        .map_err(|e| ModuleError::Delivery(format!("sending the invitation: {e}")))?;
    let peer = address(&peer);
    r.store().update(
        &convo,
        || ConvoMeta::new(&name, &desc, ConvoState::Active, ids::now_ms()),
        |m| {
            if !m.pending.contains(&peer) {
                m.pending.push(peer.clone());
            }
        },
    )?;
    Ok(Value::Null)
}

/// Joins by an invitation, recording the conversation as joining.
fn join(
    r: &Running,
    invitation: &Invitation,
    name: &str,
    desc: &str,
    inviter: Option<&str>,
) -> Result<String, ModuleError> {
    let convo = convo_id(&invitation.group_id);
    r.store().update(
        &convo,
        || ConvoMeta::new(name, desc, ConvoState::Joining, ids::now_ms()),
        |m| {
            m.state = ConvoState::Joining;
            m.leaving = false;
            m.name = name.to_owned();
            m.description = desc.to_owned();
            m.inviter = inviter.map(str::to_owned);
            m.announced = false;
        },
    )?;
    r.block(r.node.join_by_invitation(invitation))?;
    Ok(convo)
}

/// Accepts the pending inbox invitation to `convo` (also used by auto-accept).
pub fn accept(r: &Running, convo: &str) -> Result<String, ModuleError> {
    let pending = r
        .store()
        .invitation(convo)
        .cloned()
        .ok_or_else(|| ModuleError::NoInvitation(convo.to_owned()))?;
    let invitation: Invitation = pending.invitation.parse().map_err(|e| {
        ModuleError::Api(ApiError::new(ErrorCode::InvalidInvitation, format!("{e}")))
    })?;
    let convo = join(
        r,
        &invitation,
        &pending.name,
        &pending.description,
        Some(&pending.inviter),
    )?;
    r.store().drop_invitation(&convo)?;
    Ok(convo)
}

/// `accept_invitation(convo_id) -> result`: value = the convo_id.
pub fn accept_invitation(a: &Args<'_>) -> Result<Value, ModuleError> {
    let r = module::running()?;
    Ok(json!(accept(&r, &a.text(0).to_ascii_lowercase())?))
}

/// `get_invitation(convo_id) -> tstr`: "" when the group has none.
pub fn get_invitation(a: &Args<'_>) -> Result<Value, ModuleError> {
    let r = module::running()?;
    let Ok(group) = group_of(a.text(0)) else {
        return Ok(json!(""));
    };
    match r.block(r.node.invitation(group.as_bytes())) {
        Ok(invitation) => Ok(json!(invitation.to_string())),
        Err(e) => match ApiError::from(e) {
            e if matches!(e.code, ErrorCode::UnknownGroup | ErrorCode::NoInvitation) => {
                Ok(json!(""))
            }
            e => Err(e.into()),
        },
    }
}

/// `join_group_conversation(invitation) -> result`: value = the convo_id.
pub fn join_group_conversation(a: &Args<'_>) -> Result<Value, ModuleError> {
    let r = module::running()?;
    let invitation: Invitation = a.text(0).parse().map_err(|e| {
        ModuleError::Api(ApiError::new(ErrorCode::InvalidInvitation, format!("{e}")))
    })?;
    Ok(json!(join(&r, &invitation, "", "", None)?))
}

fn change_request(request: ChangeRequest) -> Value {
    match request {
        ChangeRequest::Opened { decision } => {
            json!({"status": "opened", "decision": hex::encode(decision.as_bytes())})
        }
        ChangeRequest::Deferred => json!({"status": "deferred"}),
    }
}

/// `remove_group_member(convo_id, member_address) -> result`.
pub fn remove_group_member(a: &Args<'_>) -> Result<Value, ModuleError> {
    let r = module::running()?;
    let convo = a.text(0).to_ascii_lowercase();
    let member = member_of(a.text(1))?;
    let group = member_group(&r, &convo)?;
    let request = r.block(r.node.propose_remove(group.as_bytes(), member.as_bytes()))?;
    Ok(change_request(request))
}

/// `leave_group_conversation(convo_id) -> result`.
pub fn leave_group_conversation(a: &Args<'_>) -> Result<Value, ModuleError> {
    let r = module::running()?;
    let convo = a.text(0).to_ascii_lowercase();
    let group = member_group(&r, &convo)?;
    r.store().update(
        &convo,
        || ConvoMeta::new("", "", ConvoState::Active, ids::now_ms()),
        |m| m.leaving = true,
    )?;
    let request = r.block(r.node.leave(group.as_bytes()))?;
    Ok(change_request(request))
}

/// `list_conversations() -> [Conversation]`: every conversation recorded here, and any group
/// of the node without a record.
pub fn list_conversations(_: &Args<'_>) -> Result<Value, ModuleError> {
    let r = module::running()?;
    let groups = r.block(r.node.groups())?;
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let metas: Vec<(String, ConvoMeta)> = r
        .store()
        .convos()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (convo, m) in metas {
        seen.insert(convo.clone());
        let members = match group_of(&convo) {
            Ok(g) => r
                .block(r.node.group(g.as_bytes()))?
                .map_or(0, |info| info.members.len()),
            Err(_) => 0,
        };
        let state = if members > 0 {
            ConvoState::Active
        } else {
            m.state
        };
        let mut c = json!({
            "convo_id": convo,
            "kind": "group",
            "message_count": m.message_count,
            "last_activity_ms": m.last_activity_ms,
            "state": state.as_str(),
            "member_count": members,
        });
        if !m.name.is_empty() {
            c["name"] = json!(m.name);
        }
        if !m.description.is_empty() {
            c["description"] = json!(m.description);
        }
        if let Some(p) = &m.preview {
            c["preview"] = json!(p);
        }
        out.push(c);
    }
    for g in groups {
        let convo = convo_id(&g);
        if seen.contains(&convo) {
            continue;
        }
        let members = r
            .block(r.node.group(g.as_bytes()))?
            .map_or(0, |info| info.members.len());
        out.push(json!({
            "convo_id": convo,
            "kind": "group",
            "message_count": 0,
            "last_activity_ms": 0,
            "state": "active",
            "member_count": members,
        }));
    }
    Ok(Value::Array(out))
}

/// `list_group_members(convo_id) -> [GroupMember]`: committed members, then pending invitees.
pub fn list_group_members(a: &Args<'_>) -> Result<Value, ModuleError> {
    let r = module::running()?;
    let convo = a.text(0).to_ascii_lowercase();
    let Ok(group) = group_of(&convo) else {
        return Ok(json!([]));
    };
    let Some(info) = r.block(r.node.group(group.as_bytes()))? else {
        return Ok(json!([]));
    };
    let members: Vec<String> = info.members.iter().map(address).collect();
    let mut out: Vec<Value> = members
        .iter()
        .map(|m| json!({"address": m, "pending": false}))
        .collect();
    if let Some(meta) = r.store().convo(&convo) {
        for p in meta.pending.iter().filter(|p| !members.contains(p)) {
            out.push(json!({"address": p, "pending": true}));
        }
    }
    Ok(Value::Array(out))
}

/// `send_message(convo_id, content) -> result`: value = the message id (hex).
pub fn send_message(a: &Args<'_>) -> Result<Value, ModuleError> {
    let r = module::running()?;
    let convo = a.text(0).to_ascii_lowercase();
    let text = a.text(1);
    let group = member_group(&r, &convo)?;
    let id = r.block(r.node.send(group.as_bytes(), &content::encode_text(text)))?;
    let timestamp_ms = ids::now_ms();
    r.store().log(
        &convo,
        LoggedMessage {
            from_self: true,
            content: text.to_owned(),
            timestamp_ms,
            sender: None,
        },
    )?;
    emit::emit(
        "message_sent",
        vec![json!(convo), json!(text), json!(timestamp_ms)],
    );
    Ok(json!(hex::encode(id)))
}

/// `get_messages(convo_id) -> [Message]`: oldest first; [] for an unknown conversation.
pub fn get_messages(a: &Args<'_>) -> Result<Value, ModuleError> {
    let r = module::running()?;
    let convo = a.text(0).to_ascii_lowercase();
    if hex::decode(&convo).is_err() {
        return Ok(json!([]));
    }
    Ok(Value::Array(r.store().messages(&convo)?))
}
