//! What a member knows about forks: the branch tag of an epoch, the commits of branches that
//! lost (so they are never applied again) and the branches this member will not process.

use crate::engine::digest::digest;
use crate::types::{Epoch, Timestamp};

/// Length of a branch tag.
pub(crate) const TAG_LEN: usize = 8;

/// The branch tag of an epoch with `authenticator`.
pub(crate) fn tag_of(authenticator: &[u8]) -> [u8; TAG_LEN] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(b"demls/branch/v1");
    ctx.update(authenticator);
    let mut out = [0u8; TAG_LEN];
    out.copy_from_slice(&ctx.finish().as_ref()[..TAG_LEN]);
    out
}

/// Per-group fork state (transient).
#[derive(Default)]
pub(crate) struct ForkState {
    /// When another branch was last heard of.
    pub seen_at: Option<Timestamp>,
    pub(super) last_notice: Option<Timestamp>,
    pub(super) last_commit_sent: Option<(Epoch, Timestamp)>,
    /// Fork epochs already resolved here (so each is reported once).
    pub(super) resolved: Vec<Epoch>,
    /// Branch tags of the other branches' epochs after a fork: their traffic can never be
    /// processed here and is dropped on arrival (it must not pass for "later epochs").
    pub(super) foreign: std::collections::BTreeSet<Vec<u8>>,
    /// Digests of sealed commits that competed on this branch and lost the selection (§10.4):
    /// genuine commits of a shared epoch that anyone may have recorded, so they prove no
    /// other branch (bounded, oldest forgotten first).
    pub(super) lost: std::collections::VecDeque<[u8; 32]>,
}

/// Lost candidate commits remembered at most.
pub(super) const LOST: usize = 256;

/// Foreign branch tags remembered at most.
pub(super) const FOREIGN: usize = 4_096;

impl ForkState {
    /// True if `tag` names an epoch of another branch.
    pub(crate) fn is_foreign(&self, tag: &[u8]) -> bool {
        !tag.is_empty() && self.foreign.contains(tag)
    }

    /// Notes a sealed commit that lost the selection on this branch.
    pub(crate) fn note_lost(&mut self, sealed: &[u8]) {
        self.lost.push_back(digest(sealed));
        if self.lost.len() > LOST {
            self.lost.pop_front();
        }
    }

    /// True if `sealed` is a commit that lost the selection on this branch.
    pub(super) fn is_lost(&self, sealed: &[u8]) -> bool {
        let d = digest(sealed);
        self.lost.contains(&d)
    }

    /// True if another branch was heard of within `window_ms`.
    pub(crate) fn recently_seen(&self, now: Timestamp, window_ms: u64) -> bool {
        self.seen_at.is_some_and(|t| t.plus_ms(window_ms) > now)
    }
}
