//! Delivery addresses of a group, shaped as Waku content topics
//! (`/{application}/{version}/{name}/{encoding}`).
//!
//! The group id never appears in the clear: the name is a truncated SHA-256 of it, and it is
//! kept out of the `application` segment, which Waku nodes may use for routing decisions.

use super::event::RejectReason;
use super::output::Output;
use crate::types::{GroupId, Topic};
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
        let digest = ring::digest::digest(&ring::digest::SHA256, group_id.as_bytes());
        let name = hex::encode(&digest.as_ref()[..16]);
        GroupTopics {
            group: Topic::new(format!("/demls/1/{name}-group/proto")),
            welcome: Topic::new(format!("/demls/1/{name}-welcome/proto")),
            join: Topic::new(format!("/demls/1/{name}-join/proto")),
        }
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
        assert!(t.group.as_str().starts_with("/demls/1/"));
        assert_eq!(t.group.as_str().split('/').count(), 5);
    }
}
