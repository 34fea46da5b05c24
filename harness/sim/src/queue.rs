//! The event queue: items scheduled at a virtual time, popped earliest first, ties broken by
//! the order they were scheduled in (a sequence number), so runs never depend on heap layout.
//!
//! The queue knows nothing about what its items mean.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use demls::Timestamp;

struct Entry<T> {
    at: Timestamp,
    seq: u64,
    item: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl<T> Eq for Entry<T> {}

impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Entry<T> {
    /// Reversed, so the max-heap pops the earliest (time, sequence) first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// A deterministic priority queue of timed items.
pub(crate) struct EventQueue<T> {
    heap: BinaryHeap<Entry<T>>,
    next_seq: u64,
}

impl<T> EventQueue<T> {
    pub(crate) fn new() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            next_seq: 0,
        }
    }

    /// Schedules `item` at `at`, after everything already scheduled at the same time.
    pub(crate) fn push(&mut self, at: Timestamp, item: T) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Entry { at, seq, item });
    }

    /// The time of the earliest item.
    pub(crate) fn peek_time(&self) -> Option<Timestamp> {
        self.heap.peek().map(|e| e.at)
    }

    /// Removes the earliest item.
    pub(crate) fn pop(&mut self) -> Option<(Timestamp, T)> {
        self.heap.pop().map(|e| (e.at, e.item))
    }

    /// Items scheduled and not yet popped.
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_pop_by_time_and_ties_in_scheduling_order() {
        let mut q = EventQueue::new();
        q.push(Timestamp(20), "late");
        q.push(Timestamp(10), "first at 10");
        q.push(Timestamp(10), "second at 10");
        q.push(Timestamp(5), "early");
        q.push(Timestamp(10), "third at 10");
        assert_eq!(q.len(), 5);
        assert_eq!(q.peek_time(), Some(Timestamp(5)));
        let order: Vec<&str> = std::iter::from_fn(|| q.pop().map(|(_, i)| i)).collect();
        assert_eq!(
            order,
            [
                "early",
                "first at 10",
                "second at 10",
                "third at 10",
                "late"
            ]
        );
    }
}
