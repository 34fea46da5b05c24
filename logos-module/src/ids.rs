//! The contract's identifiers: a conversation id is the lowercase hex of the de-MLS group id
//! (groups created here get a random 16-byte id); an address is the lowercase hex of the
//! 20-byte member id; the inbox of an address is the content topic
//! `/logos-chat/1/<inbox>/proto` with `inbox = hex(SHA-256("demls/inbox/1" || member id)[0..16])`.

use std::time::{SystemTime, UNIX_EPOCH};

use demls::{GroupId, MemberId, Topic};
use ring::rand::{SecureRandom, SystemRandom};

use crate::error::ModuleError;

/// Bytes of a group id created by this module.
pub const NEW_GROUP_ID_LEN: usize = 16;

/// The conversation id of a group.
pub fn convo_id(group: &GroupId) -> String {
    hex::encode(group.as_bytes())
}

/// The group of a conversation id (hex, either case).
pub fn group_of(convo: &str) -> Result<GroupId, ModuleError> {
    hex::decode(convo)
        .ok()
        .and_then(GroupId::new)
        .ok_or_else(|| ModuleError::UnknownConversation(convo.to_owned()))
}

/// The address of a member.
pub fn address(member: &MemberId) -> String {
    hex::encode(member.as_bytes())
}

/// The member of an address.
pub fn member_of(address: &str) -> Result<MemberId, ModuleError> {
    hex::decode(address)
        .ok()
        .and_then(|b| MemberId::from_slice(&b))
        .ok_or_else(|| ModuleError::InvalidAddress(address.to_owned()))
}

/// The inbox content topic of a member: the engine's definition (`GroupTopics::inbox`, the one
/// place topics are built), so the module and the spec cannot drift apart.
pub fn inbox_topic(member: &MemberId) -> Topic {
    demls::engine::GroupTopics::inbox(member)
}

/// A fresh random group id.
pub fn new_group_id() -> Result<GroupId, ModuleError> {
    let mut bytes = [0u8; NEW_GROUP_ID_LEN];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| ModuleError::Persistence("the system random generator failed".into()))?;
    GroupId::new(bytes.to_vec()).ok_or_else(|| ModuleError::Persistence("group id".into()))
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_inboxes_are_content_topics() {
        let member = MemberId::from_signature_key(&[7u8; 32]);
        let a = address(&member);
        assert_eq!(a.len(), 40);
        assert_eq!(member_of(&a).unwrap(), member);
        assert!(member_of("zz").is_err());
        let topic = inbox_topic(&member);
        assert!(topic.as_str().starts_with("/logos-chat/1/"));
        assert_eq!(topic.as_str().len(), "/logos-chat/1//proto".len() + 32);
        // The contract's derivation: hex(SHA-256("demls/inbox/1" || member id)[0..16]).
        let mut input = b"demls/inbox/1".to_vec();
        input.extend_from_slice(member.as_bytes());
        let hash = ring::digest::digest(&ring::digest::SHA256, &input);
        assert_eq!(
            topic.as_str(),
            format!("/logos-chat/1/{}/proto", hex::encode(&hash.as_ref()[..16]))
        );
        let g = new_group_id().unwrap();
        assert_eq!(group_of(&convo_id(&g)).unwrap(), g);
        assert!(group_of("").is_err());
    }
}
