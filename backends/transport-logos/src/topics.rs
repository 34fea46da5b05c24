//! Topics: the one static-shard pubsub topic the node relays, and the content topics the
//! framework's [`Topic`]s map to one-to-one.
//!
//! The framework already shapes its delivery addresses as Logos Chat content topics
//! (`/logos-chat/1/<32 hex>/proto`, see `demls::engine::GroupTopics`), so a [`Topic`] is used as
//! the content topic unchanged; this module only checks it is one.

use demls::{Topic, TransportError};

/// The longest content topic accepted, in bytes (keeps the per-message overhead bounded).
pub const MAX_CONTENT_TOPIC_LEN: usize = 512;

/// The static-sharding pubsub topic `/waku/2/rs/<cluster>/<shard>`.
pub fn pubsub_topic(cluster_id: u16, shard: u16) -> String {
    format!("/waku/2/rs/{cluster_id}/{shard}")
}

/// Checks that `topic` is a content topic `/{application}/{version}/{name}/{encoding}`
/// (leading slash, four non-empty segments) and not too long.
pub fn content_topic(topic: &Topic) -> Result<&str, TransportError> {
    let s = topic.as_str();
    let invalid = |reason| {
        Err(TransportError::InvalidTopic {
            topic: s.to_owned(),
            reason,
        })
    };
    if s.is_empty() {
        return invalid("empty");
    }
    if s.len() > MAX_CONTENT_TOPIC_LEN {
        return invalid("longer than 512 bytes");
    }
    let Some(rest) = s.strip_prefix('/') else {
        return invalid("a content topic starts with '/'");
    };
    let parts: Vec<&str> = rest.split('/').collect();
    if parts.len() != 4 || parts.iter().any(|p| p.is_empty()) {
        return invalid("expected /{application}/{version}/{name}/{encoding}");
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pubsub_topic_names_cluster_and_shard() {
        assert_eq!(pubsub_topic(42, 3), "/waku/2/rs/42/3");
    }

    #[test]
    fn the_framework_group_and_inbox_topics_are_valid_content_topics() {
        use demls::engine::GroupTopics;
        use demls::types::{GroupId, MemberId};
        let t = GroupTopics::of(&GroupId::new(vec![1u8; 16]).unwrap());
        let inbox = GroupTopics::inbox(&MemberId([2u8; 20]));
        for topic in [&t.group, &t.welcome, &t.join, &inbox] {
            let s = content_topic(topic).unwrap();
            assert!(
                s.starts_with("/logos-chat/1/") && s.ends_with("/proto"),
                "{s}"
            );
        }
    }

    #[test]
    fn malformed_content_topics_are_rejected() {
        for bad in ["", "a/b/c/d", "/a/b/c", "/a//c/d", "/a/b/c/d/e"] {
            assert!(
                matches!(
                    content_topic(&Topic::new(bad)),
                    Err(TransportError::InvalidTopic { .. })
                ),
                "{bad:?} accepted"
            );
        }
        let long = format!("/a/1/{}/proto", "x".repeat(600));
        assert!(content_topic(&Topic::new(long)).is_err());
    }
}
