//! The steward list: who the candidates are and in what order they serve.
//!
//! LIP-104: the list is the first `sn` eligible members sorted by
//! `SHA-256(epoch ‖ retry_round ‖ member_id ‖ group_id)` ascending, where `epoch` is the epoch
//! the election is held in and `retry_round` counts re-elections within it; `sn` is every
//! eligible member when there are fewer than `sn_min`, else at most `sn_max`. Every member
//! recomputes the list from the actual roster, so a proposed list that does not reproduce is
//! rejected by all.

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
    excluded: &[MemberId],
    epoch: Epoch,
    retry_round: u32,
    group_id: &GroupId,
) -> Vec<MemberId> {
    let mut candidates: Vec<([u8; 32], MemberId)> = roster
        .ids()
        .filter(|id| !excluded.contains(id))
        .map(|id| (election_key(epoch, retry_round, &id, group_id), id))
        .collect();
    candidates.sort_unstable();
    candidates.into_iter().map(|(_, id)| id).collect()
}

/// The steward list an election in `epoch` at `retry_round` must propose.
pub fn elect(
    roster: &Roster,
    excluded: &[MemberId],
    epoch: Epoch,
    retry_round: u32,
    group_id: &GroupId,
    sn_min: usize,
    sn_max: usize,
) -> Vec<MemberId> {
    let mut order = ranked(roster, excluded, epoch, retry_round, group_id);
    let size = if order.len() < sn_min {
        order.len()
    } else {
        order.len().min(sn_max)
    };
    order.truncate(size);
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roster::RosterEntry;

    fn roster(n: u8) -> Roster {
        Roster::new(
            1,
            (0..n)
                .map(|i| RosterEntry {
                    leaf: u32::from(i),
                    id: MemberId([i; 20]),
                    signature_key: vec![i; 32],
                })
                .collect(),
        )
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
}
