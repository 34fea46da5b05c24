//! The node's message history: the latest application messages of each group (received, and
//! sent by this node), bounded per group, kept in memory by the node so that an application can
//! ask for a conversation's recent messages instead of keeping its own copy of every event.
//! It is not durable: after a restart it starts empty.

use std::collections::{HashMap, VecDeque};

use crate::api::Message;
use crate::types::GroupId;

/// Messages kept per group unless configured otherwise (`[node] history`).
pub(crate) const DEFAULT_HISTORY: usize = 1000;

/// The latest messages of each group.
pub(crate) struct History {
    capacity: usize,
    groups: HashMap<GroupId, VecDeque<Message>>,
}

impl History {
    /// An empty history keeping up to `capacity` messages per group (0: none).
    pub(crate) fn new(capacity: usize) -> History {
        History {
            capacity,
            groups: HashMap::new(),
        }
    }

    /// Appends a message, dropping the group's oldest beyond the capacity.
    pub(crate) fn record(&mut self, message: Message) {
        if self.capacity == 0 {
            return;
        }
        let list = self.groups.entry(message.group.clone()).or_default();
        if list.len() == self.capacity {
            list.pop_front();
        }
        list.push_back(message);
    }

    /// The latest `limit` messages of `group`, oldest first.
    pub(crate) fn latest(&self, group: &GroupId, limit: usize) -> Vec<Message> {
        self.groups.get(group).map_or_else(Vec::new, |list| {
            list.iter()
                .skip(list.len().saturating_sub(limit))
                .cloned()
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::MemberId;

    fn message(group: &GroupId, n: u8) -> Message {
        Message {
            group: group.clone(),
            sender: MemberId([n; 20]),
            message_id: vec![n; 16],
            payload: vec![n],
            epoch: 1,
            at_ms: u64::from(n),
        }
    }

    #[test]
    fn keeps_the_latest_messages_of_each_group_oldest_first() {
        let (a, b) = (
            GroupId::new(b"a".to_vec()).unwrap(),
            GroupId::new(b"b".to_vec()).unwrap(),
        );
        let mut h = History::new(3);
        for n in 0..5 {
            h.record(message(&a, n));
        }
        h.record(message(&b, 9));
        let got: Vec<u8> = h.latest(&a, 10).iter().map(|m| m.payload[0]).collect();
        assert_eq!(got, vec![2, 3, 4]);
        let got: Vec<u8> = h.latest(&a, 2).iter().map(|m| m.payload[0]).collect();
        assert_eq!(got, vec![3, 4]);
        assert_eq!(h.latest(&b, 10).len(), 1);
        assert!(
            h.latest(&GroupId::new(b"c".to_vec()).unwrap(), 10)
                .is_empty()
        );
    }

    #[test]
    fn a_zero_capacity_keeps_nothing() {
        let a = GroupId::new(b"a".to_vec()).unwrap();
        let mut h = History::new(0);
        h.record(message(&a, 1));
        assert!(h.latest(&a, 10).is_empty());
    }
}
