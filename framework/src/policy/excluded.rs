//! The members a steward order leaves out, whatever collection holds them.
//!
//! Policies skip members pending removal when they pick stewards. The engine hands those over
//! as a set (found in O(log n) per member); commit facts and tests hand over slices.

use std::collections::BTreeSet;

use crate::types::MemberId;

/// Members left out of the steward order (pending removal, or known removal targets).
pub trait Excluded {
    /// True when `member` is left out.
    fn excludes(&self, member: &MemberId) -> bool;
}

impl Excluded for [MemberId] {
    fn excludes(&self, member: &MemberId) -> bool {
        self.contains(member)
    }
}

impl<const N: usize> Excluded for [MemberId; N] {
    fn excludes(&self, member: &MemberId) -> bool {
        self.contains(member)
    }
}

impl Excluded for Vec<MemberId> {
    fn excludes(&self, member: &MemberId) -> bool {
        self.contains(member)
    }
}

impl Excluded for BTreeSet<MemberId> {
    fn excludes(&self, member: &MemberId) -> bool {
        self.contains(member)
    }
}
