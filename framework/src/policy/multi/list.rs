//! The steward list: who the candidates are and in what order they serve.
//!
//! LIP-104: the list is the first `sn` eligible members sorted by
//! `SHA-256(epoch ‖ retry_round ‖ member_id ‖ group_id)` ascending, where `epoch` is the epoch
//! the election is held in and `retry_round` counts re-elections within it; `sn` is every
//! eligible member when there are fewer than `sn_min`, else at most `sn_max`. Every member
//! recomputes the list from the actual roster, so a proposed list that does not reproduce is
//! rejected by all.
//!
//! Members pending removal are not eligible, but whether a removal is already decided depends
//! on which votes a member has seen. A validator therefore accepts a list that leaves out
//! members it knows a removal proposal for (open or decided), and nobody else: the proposer's
//! and validator's views may differ in timing, never in the roster.

use crate::policy::Excluded;
use crate::roster::Roster;
use crate::types::{Epoch, GroupId, MemberId};

/// The ordering key of `member` in an election held in `epoch` at `retry_round`.
pub fn election_key(
    epoch: Epoch,
    retry_round: u32,
    member: &MemberId,
    group_id: &GroupId,
) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(&epoch.to_be_bytes());
    ctx.update(&retry_round.to_be_bytes());
    ctx.update(member.as_bytes());
    ctx.update(group_id.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// Every eligible member in election order (members pending removal are not eligible).
pub fn ranked(
    roster: &Roster,
    excluded: &(impl Excluded + ?Sized),
    epoch: Epoch,
    retry_round: u32,
    group_id: &GroupId,
) -> Vec<MemberId> {
    let mut candidates: Vec<([u8; 32], MemberId)> = roster
        .ids()
        .filter(|id| !excluded.excludes(id))
        .map(|id| (election_key(epoch, retry_round, &id, group_id), id))
        .collect();
    candidates.sort_unstable();
    candidates.into_iter().map(|(_, id)| id).collect()
}

/// `member`'s place in [`ranked`] order, found without sorting the roster (one key per member);
/// `None` when it is not eligible.
pub fn rank_of(
    roster: &Roster,
    excluded: &(impl Excluded + ?Sized),
    epoch: Epoch,
    retry_round: u32,
    group_id: &GroupId,
    member: &MemberId,
) -> Option<usize> {
    if !roster.contains(member) || excluded.excludes(member) {
        return None;
    }
    let mine = (election_key(epoch, retry_round, member, group_id), *member);
    Some(
        roster
            .ids()
            .filter(|id| !excluded.excludes(id))
            .filter(|id| (election_key(epoch, retry_round, id, group_id), *id) < mine)
            .count(),
    )
}

/// `member`'s turn among members that each open the same proposal in [`ranked`] order: its
/// place, or after every eligible member when it is not eligible itself.
pub fn turn_of(
    roster: &Roster,
    excluded: &(impl Excluded + ?Sized),
    epoch: Epoch,
    retry_round: u32,
    group_id: &GroupId,
    member: &MemberId,
) -> usize {
    rank_of(roster, excluded, epoch, retry_round, group_id, member)
        .unwrap_or_else(|| roster.ids().filter(|id| !excluded.excludes(id)).count())
}

/// The list size for `eligible` members.
fn size(eligible: usize, sn_min: usize, sn_max: usize) -> usize {
    if eligible < sn_min {
        eligible
    } else {
        eligible.min(sn_max)
    }
}

/// Whether `stewards` is the list an election in `epoch` at `retry_round` elects when some of
/// the members in `removable` (removal targets known to the validator) are left out.
#[allow(clippy::too_many_arguments)]
pub fn reproduces(
    stewards: &[MemberId],
    roster: &Roster,
    removable: &[MemberId],
    epoch: Epoch,
    retry_round: u32,
    group_id: &GroupId,
    sn_min: usize,
    sn_max: usize,
) -> bool {
    if stewards.is_empty() {
        return false;
    }
    let order = ranked(roster, &[], epoch, retry_round, group_id);
    let mut next = stewards.iter().peekable();
    let mut skipped = 0;
    for member in &order {
        match next.peek() {
            Some(s) if *s == member => {
                next.next();
            }
            Some(_) if removable.contains(member) => skipped += 1,
            Some(_) => return false, // an eligible member was passed over
            None => break,
        }
    }
    if next.peek().is_some() {
        return false; // not in election order, or not members
    }
    let removable_members = removable.iter().filter(|m| roster.contains(m)).count();
    (skipped..=removable_members.max(skipped))
        .any(|left_out| size(order.len() - left_out, sn_min, sn_max) == stewards.len())
}

/// The steward list an election in `epoch` at `retry_round` must propose.
pub fn elect(
    roster: &Roster,
    excluded: &(impl Excluded + ?Sized),
    epoch: Epoch,
    retry_round: u32,
    group_id: &GroupId,
    sn_min: usize,
    sn_max: usize,
) -> Vec<MemberId> {
    let mut order = ranked(roster, excluded, epoch, retry_round, group_id);
    order.truncate(size(order.len(), sn_min, sn_max));
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::roster;

    #[test]
    fn a_members_rank_is_its_place_in_the_sorted_order() {
        let g = GroupId::new(b"g".to_vec()).unwrap();
        let r = roster(12);
        let excluded = [MemberId([4; 20])];
        let order = ranked(&r, &excluded, 5, 2, &g);
        for id in r.ids() {
            let place = order.iter().position(|m| *m == id);
            assert_eq!(rank_of(&r, &excluded, 5, 2, &g, &id), place);
            assert_eq!(
                turn_of(&r, &excluded, 5, 2, &g, &id),
                place.unwrap_or(order.len())
            );
        }
        assert_eq!(rank_of(&r, &[], 5, 2, &g, &MemberId([99; 20])), None);
    }

    #[test]
    fn lists_are_sized_by_the_bounds_and_reproducible() {
        let g = GroupId::new(b"g".to_vec()).unwrap();
        assert_eq!(
            elect(&roster(2), &[], 5, 0, &g, 3, 5).len(),
            2,
            "fewer than sn_min: everyone"
        );
        assert_eq!(elect(&roster(4), &[], 5, 0, &g, 3, 5).len(), 4);
        assert_eq!(elect(&roster(10), &[], 5, 0, &g, 3, 5).len(), 5);
        assert_eq!(
            elect(&roster(10), &[], 5, 0, &g, 3, 5),
            elect(&roster(10), &[], 5, 0, &g, 3, 5)
        );
    }

    #[test]
    fn order_depends_on_epoch_retry_and_group_and_excludes_pending_removals() {
        let g = GroupId::new(b"g".to_vec()).unwrap();
        let h = GroupId::new(b"h".to_vec()).unwrap();
        let r = roster(12);
        let base = elect(&r, &[], 5, 0, &g, 3, 12);
        assert_ne!(base, elect(&r, &[], 6, 0, &g, 3, 12));
        assert_ne!(base, elect(&r, &[], 5, 1, &g, 3, 12));
        assert_ne!(base, elect(&r, &[], 5, 0, &h, 3, 12));
        let first = base[0];
        assert!(!elect(&r, &[first], 5, 0, &g, 3, 12).contains(&first));
        let mut keys: Vec<_> = base.iter().map(|m| election_key(5, 0, m, &g)).collect();
        let sorted = {
            let mut k = keys.clone();
            k.sort();
            k
        };
        assert_eq!(keys, sorted, "ascending by key");
        keys.dedup();
        assert_eq!(keys.len(), 12);
    }

    #[test]
    fn validators_accept_lists_that_leave_out_known_removal_targets_only() {
        let g = GroupId::new(b"g".to_vec()).unwrap();
        let r = roster(12);
        let full = elect(&r, &[], 5, 1, &g, 3, 4);
        assert!(reproduces(&full, &r, &[], 5, 1, &g, 3, 4));
        let leaving = full[1];
        let without = elect(&r, &[leaving], 5, 1, &g, 3, 4);
        assert!(
            reproduces(&without, &r, &[leaving], 5, 1, &g, 3, 4),
            "the proposer already saw the removal decided"
        );
        assert!(
            reproduces(&full, &r, &[leaving], 5, 1, &g, 3, 4),
            "the proposer had not seen it yet"
        );
        assert!(
            !reproduces(&without, &r, &[], 5, 1, &g, 3, 4),
            "nobody may be left out without a removal proposal"
        );
        let mut reordered = full.clone();
        reordered.swap(0, 1);
        assert!(!reproduces(&reordered, &r, &[], 5, 1, &g, 3, 4));
        assert!(
            !reproduces(&full[..3], &r, &[], 5, 1, &g, 3, 4),
            "too short"
        );
        assert!(!reproduces(&full, &r, &[], 5, 2, &g, 3, 4), "another round");
        let mut stranger = full.clone();
        stranger[3] = MemberId([99; 20]);
        assert!(!reproduces(&stranger, &r, &[], 5, 1, &g, 3, 4));
        assert!(!reproduces(&[], &r, &[], 5, 1, &g, 3, 4));
    }
}
