//! A steward-policy wrapper that never commits while its switch is on: a lazy or censoring
//! steward that still votes, chats and follows the group. Experiments flip the shared switch
//! to take the fault away.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use demls::engine::{ProposalAction, ProposalKind, Violation};
use demls::steward::{
    CommitFacts, CommitRank, EpochView, PolicyAction, PolicyError, StewardPolicy,
    StewardPolicyFactory,
};
use demls::{GroupId, MemberId, Timestamp};

/// A switch shared between an experiment and the lazy policies it controls.
#[derive(Clone, Default)]
pub struct LazySwitch(Arc<AtomicBool>);

impl LazySwitch {
    /// A switch, initially `on`.
    pub fn new(on: bool) -> LazySwitch {
        LazySwitch(Arc::new(AtomicBool::new(on)))
    }

    /// Turns laziness on or off.
    pub fn set(&self, on: bool) {
        self.0.store(on, Ordering::SeqCst);
    }

    /// Whether laziness is on.
    pub fn is_on(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Creates policies that wrap `inner`'s and skip their turns while the switch is on.
pub struct LazyFactory {
    /// The real policy.
    pub inner: Arc<dyn StewardPolicyFactory>,
    /// The shared switch.
    pub switch: LazySwitch,
}

impl StewardPolicyFactory for LazyFactory {
    fn name(&self) -> &str {
        "lazy"
    }

    fn create(
        &self,
        group_id: &GroupId,
        saved: Option<&[u8]>,
    ) -> Result<Box<dyn StewardPolicy>, PolicyError> {
        Ok(Box::new(Lazy {
            inner: self.inner.create(group_id, saved)?,
            switch: self.switch.clone(),
        }))
    }
}

struct Lazy {
    inner: Box<dyn StewardPolicy>,
    switch: LazySwitch,
}

impl StewardPolicy for Lazy {
    fn name(&self) -> &str {
        "lazy"
    }
    fn stewards(&self, view: &EpochView<'_>) -> Vec<MemberId> {
        self.inner.stewards(view)
    }
    fn authorize_commit(
        &self,
        view: &EpochView<'_>,
        commit: &CommitFacts<'_>,
    ) -> Result<CommitRank, PolicyError> {
        self.inner.authorize_commit(view, commit)
    }
    fn selection_window_ms(&self) -> u64 {
        self.inner.selection_window_ms()
    }
    fn commit_at(&self, view: &EpochView<'_>, ready_at: Timestamp) -> Option<Timestamp> {
        if self.switch.is_on() {
            None
        } else {
            self.inner.commit_at(view, ready_at)
        }
    }
    fn opens_add_proposal(&self, view: &EpochView<'_>, waited_ms: u64) -> bool {
        self.inner.opens_add_proposal(view, waited_ms)
    }
    fn voters(&self, view: &EpochView<'_>, kind: ProposalKind) -> Option<Vec<MemberId>> {
        self.inner.voters(view, kind)
    }
    fn validate_proposal(
        &self,
        view: &EpochView<'_>,
        owner: &MemberId,
        action: &ProposalAction,
        evidence: &[u8],
    ) -> Result<(), PolicyError> {
        self.inner.validate_proposal(view, owner, action, evidence)
    }
    fn on_decided(
        &mut self,
        view: &EpochView<'_>,
        owner: &MemberId,
        action: &ProposalAction,
        outcome: demls::Verdict,
        now: Timestamp,
    ) -> Vec<PolicyAction> {
        self.inner.on_decided(view, owner, action, outcome, now)
    }
    fn on_commit(&mut self, view: &EpochView<'_>, commit: &CommitFacts<'_>, now: Timestamp) {
        self.inner.on_commit(view, commit, now)
    }
    fn on_violation(
        &mut self,
        view: &EpochView<'_>,
        offender: &MemberId,
        violation: Violation,
        evidence: &[u8],
        now: Timestamp,
    ) -> Vec<PolicyAction> {
        self.inner
            .on_violation(view, offender, violation, evidence, now)
    }
    fn on_epoch(&mut self, view: &EpochView<'_>, now: Timestamp) {
        self.inner.on_epoch(view, now)
    }
    fn tick(&mut self, view: &EpochView<'_>, now: Timestamp) -> Vec<PolicyAction> {
        self.inner.tick(view, now)
    }
    fn next_deadline(&self) -> Option<Timestamp> {
        self.inner.next_deadline()
    }
    fn joiner_state(&self, view: &EpochView<'_>, commit: &CommitFacts<'_>) -> Vec<u8> {
        self.inner.joiner_state(view, commit)
    }
    fn adopt_joiner_state(&mut self, state: &[u8]) -> Result<(), PolicyError> {
        self.inner.adopt_joiner_state(state)
    }
    fn save(&self) -> Vec<u8> {
        self.inner.save()
    }
}
