//! Delivery addresses of a group and of a member's inbox, shaped as Logos Chat content topics
//! (`/logos-chat/1/{delivery_address}/proto`, the mapping of the chat stack's delivery service
//! onto Waku content topics; see `specs/logos-chat.md` §4).
//!
//! Each delivery address is `hex(SHA-256(label ‖ id)[0..16])` with a label per purpose, so: the
//! group id (the conversation id) never appears in a topic; the three addresses of one group
//! cannot be linked to each other, nor told from any other chat conversation's, by their strings
//! (the envelopes on them still carry the group id in the clear: `specs/logos-chat.md` §9); and
//! the `application` segment, which autosharding turns into the shard, is the same for all chat
//! traffic. This is the only place topics are built.

use super::event::RejectReason;
use super::output::Output;
use crate::types::{GroupId, MemberId, Topic};
use crate::wire::Kind;

/// The three topics of a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupTopics {
    /// Members' traffic: MLS messages, consensus messages and sealed commits.
    pub group: Topic,
    /// Requests to be added, for members: KeyPackage announcements and rejoin requests.
    pub welcome: Topic,
    /// Answers for would-be members: Welcomes and ratchet trees. Only nodes waiting to join
    /// subscribe, so members never receive the Welcome and the tree of someone else's join.
    pub join: Topic,
}

impl GroupTopics {
    /// The topics of `group_id`.
    pub fn of(group_id: &GroupId) -> GroupTopics {
        GroupTopics {
            group: chat_topic(GROUP_LABEL, group_id.as_bytes()),
            welcome: chat_topic(WELCOME_LABEL, group_id.as_bytes()),
            join: chat_topic(JOIN_LABEL, group_id.as_bytes()),
        }
    }

    /// The inbox of `member`: the delivery address on which it receives invitations to
    /// groups (`specs/logos-chat.md` §5). Only the member follows it; anyone who knows the
    /// member id (its chat address) can write to it. Not a topic of any one group: the engine
    /// never subscribes to it; the chat-stack layer (the Logos Core module) does.
    pub fn inbox(member: &MemberId) -> Topic {
        chat_topic(INBOX_LABEL, &member.0)
    }

    /// The topic an envelope of `kind` travels on; traffic of that kind seen on another topic
    /// is refused.
    pub fn for_kind(&self, kind: Kind) -> &Topic {
        match kind {
            _ if branch_tagged(kind) => &self.group,
            Kind::Bundle | Kind::ForkNotice | Kind::Beyond => &self.group,
            Kind::Welcome | Kind::RatchetTree => &self.join,
            _ => &self.welcome,
        }
    }

    /// The refusal of an envelope of `kind` that arrived on `topic`, if that is not the topic
    /// [`for_kind`](GroupTopics::for_kind) names for it (members and joiners alike).
    pub(crate) fn refuse_wrong_topic(
        &self,
        group_id: &GroupId,
        topic: &Topic,
        kind: Kind,
    ) -> Option<Output> {
        (topic != self.for_kind(kind)).then(|| {
            Output::rejected(
                Some(group_id.clone()),
                RejectReason::WrongTopic,
                topic.as_str(),
            )
        })
    }
}

/// Label of a group's members' traffic address.
const GROUP_LABEL: &[u8] = b"demls/group/1";
/// Label of a group's join-request address.
const WELCOME_LABEL: &[u8] = b"demls/welcome/1";
/// Label of a group's join-answer address.
const JOIN_LABEL: &[u8] = b"demls/join/1";
/// Label of a member's inbox address.
const INBOX_LABEL: &[u8] = b"demls/inbox/1";

/// `/logos-chat/1/{hex(SHA-256(label ‖ id)[0..16])}/proto`.
fn chat_topic(label: &[u8], id: &[u8]) -> Topic {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(label);
    ctx.update(id);
    let address = hex::encode(&ctx.finish().as_ref()[..16]);
    Topic::new(format!("/logos-chat/1/{address}/proto"))
}

/// Kinds that carry the branch tag of their epoch (traffic of one branch of a fork); all
/// travel on the group topic.
pub(crate) fn branch_tagged(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Mls
            | Kind::Consensus
            | Kind::Control
            | Kind::Commit
            | Kind::Certificate
            | Kind::CatchUp
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_hide_the_group_id_and_differ_by_purpose() {
        let t = GroupTopics::of(&GroupId::new(b"secret-group".to_vec()).unwrap());
        assert!(!t.group.as_str().contains("secret"));
        assert_ne!(t.group, t.welcome);
        assert_ne!(t.welcome, t.join);
        assert_ne!(t.group, t.join);
    }

    #[test]
    fn topics_are_logos_chat_content_topics_whose_addresses_share_nothing() {
        let g = GroupId::new(vec![7u8; 16]).unwrap();
        let t = GroupTopics::of(&g);
        let addresses: Vec<&str> = [&t.group, &t.welcome, &t.join]
            .iter()
            .map(|topic| {
                let s = topic.as_str();
                let address = s
                    .strip_prefix("/logos-chat/1/")
                    .and_then(|rest| rest.strip_suffix("/proto"))
                    .unwrap_or_else(|| panic!("{s} is not /logos-chat/1/{{address}}/proto"));
                assert_eq!(address.len(), 32, "{s}");
                assert!(
                    address
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
                );
                address
            })
            .collect();
        // Nothing in the strings links the three addresses of one group.
        assert_ne!(addresses[0][..8], addresses[1][..8]);
        assert_ne!(addresses[1][..8], addresses[2][..8]);
        assert!(
            !addresses
                .iter()
                .any(|a| a.contains(&hex::encode(g.as_bytes())))
        );
    }

    #[test]
    fn addresses_match_the_spec_vectors() {
        // specs/logos-chat.md §4 and §5: group id 00 01 .. 0f, member id 00 01 .. 13.
        let g = GroupId::new((0u8..16).collect::<Vec<u8>>()).unwrap();
        let t = GroupTopics::of(&g);
        let m = MemberId(core::array::from_fn(|i| i as u8));
        let got =
            [&t.group, &t.welcome, &t.join, &GroupTopics::inbox(&m)].map(|t| t.as_str().to_owned());
        assert_eq!(got, VECTORS.map(str::to_owned));
    }

    const VECTORS: [&str; 4] = [
        "/logos-chat/1/4b64d905165230a21923ae4141d30243/proto",
        "/logos-chat/1/33b7b33bb99c94aefedb7b49b5b943ad/proto",
        "/logos-chat/1/5bf28da5e24b24f861c3c6cd3380aef1/proto",
        "/logos-chat/1/4824e990d17b44ce56342eb6c676ff99/proto",
    ];
}
