//! The application's commands on groups: creating one, joining one (by invitation or by id),
//! sending a message, asking for an add, a removal or a leave, voting. Each runs as one step
//! (see [`super::step`]); what the protocol does with it lives in the module of its concept.

use super::error::EngineError;
use super::event::{GroupEvent, ProposalAction, RejectReason};
use super::freeze::Submission;
use super::group::Group;
use super::join;
use super::machine::Engine;
use super::output::Output;
use super::step::reject;
use super::{chat, freeze, governance, keypackages, leave};
use crate::invitation::Invitation;
use crate::mls::Provider;
use crate::txn::Txn;
use crate::types::{GroupId, MemberId, ProposalId, Timestamp};

impl Engine {
    /// Creates a group with this node as its only member (and steward).
    pub fn create_group(
        &mut self,
        group_id: GroupId,
        now: Timestamp,
    ) -> Result<Output, EngineError> {
        self.ensure_new(&group_id)?;
        let storage = self.storage.clone();
        let txn = Txn::new(&*storage);
        let provider = Provider::new(&self.crypto, &txn);
        let genesis = self
            .crypto
            .entropy()
            .array::<{ crate::mls::GENESIS_LEN }>()?;
        let mls = crate::mls::MlsState::create(
            &provider,
            &self.identity,
            &group_id,
            &genesis,
            &self.params.mls(),
            now,
        )?;
        let mut group = self.new_group(group_id.clone(), mls, now)?;
        let me = self.identity.member_id();
        group.with_policy_mut(me, |policy, view| policy.on_epoch(view, now));
        group.refresh_voters(me);
        group.flush(&txn);
        txn.commit()?;
        let mut out = Output::default();
        out.subscribe.push(group.topics.group.clone());
        out.subscribe.push(group.topics.welcome.clone());
        out.event(GroupEvent::GroupCreated {
            group_id: group_id.clone(),
            epoch: group.epoch(),
        });
        tracing::info!(group = %group_id.display(), "group created");
        self.groups.insert(group_id, group);
        Ok(out)
    }

    pub(super) fn new_group(
        &self,
        id: GroupId,
        mls: crate::mls::MlsState,
        now: Timestamp,
    ) -> Result<Group, EngineError> {
        let consensus = self.consensus.create(crate::consensus::ConsensusContext {
            group_id: id.clone(),
            signer: self.identity.clone(),
            restored: Vec::new(),
            now,
        })?;
        let policy = self.policies.create(&id, None)?;
        Group::new(id, mls, &self.crypto, consensus, policy)
    }

    /// The invitation to a group this node is a member of: hand it to a would-be member, whose
    /// [`join_by_invitation`](Engine::join_by_invitation) then lands only in this group.
    /// Fails with [`EngineError::NoGenesis`] for a group created before groups had a genesis.
    pub fn invitation(&self, group_id: &GroupId) -> Result<Invitation, EngineError> {
        let group = self
            .groups
            .get(group_id)
            .ok_or_else(|| EngineError::UnknownGroup(group_id.clone()))?;
        let genesis = group
            .mls
            .genesis()
            .ok_or_else(|| EngineError::NoGenesis(group_id.clone()))?;
        Ok(Invitation::new(group_id.clone(), &genesis))
    }

    /// Starts joining the group an invitation names, like [`request_join`](Engine::request_join),
    /// but accepts only a Welcome into a group whose genesis matches the invitation; any other
    /// Welcome is refused with `Rejected { ForeignWelcome }` and the join keeps waiting.
    pub fn join_by_invitation(
        &mut self,
        invitation: &Invitation,
        now: Timestamp,
    ) -> Result<Output, EngineError> {
        self.start_join(
            invitation.group_id.clone(),
            Some(invitation.genesis_digest),
            now,
        )
    }

    /// Starts joining a group by its id alone: announces a fresh KeyPackage on its welcome
    /// topic and waits for a Welcome. The KeyPackage is re-announced periodically until the
    /// node is added. Trust on first use: the first group under this id that adds the node is
    /// the one it joins, even a look-alike an outsider created under the same id; use
    /// [`join_by_invitation`](Engine::join_by_invitation) to rule that out.
    pub fn request_join(
        &mut self,
        group_id: GroupId,
        now: Timestamp,
    ) -> Result<Output, EngineError> {
        self.start_join(group_id, None, now)
    }

    fn start_join(
        &mut self,
        group_id: GroupId,
        genesis_digest: Option<[u8; 32]>,
        now: Timestamp,
    ) -> Result<Output, EngineError> {
        self.ensure_new(&group_id)?;
        let terms = join::JoinTerms {
            rejoin_since: None,
            genesis_digest,
        };
        self.begin_join(&group_id, terms, now)
    }

    /// Encrypts and publishes an application message; returns its message id.
    pub fn send_message(
        &mut self,
        group_id: &GroupId,
        payload: &[u8],
        now: Timestamp,
    ) -> Result<(Vec<u8>, Output), EngineError> {
        if payload.len() > self.params.max_app_message_bytes {
            return Err(EngineError::PayloadTooLarge {
                size: payload.len(),
                limit: self.params.max_app_message_bytes,
            });
        }
        let message_id = self.crypto.entropy().array::<16>()?.to_vec();
        let out = self.group_command(group_id, now, |group, step| {
            chat::send(group, step, &message_id, payload)
        })?;
        Ok((message_id, out))
    }

    /// Opens a vote on adding the holder of `key_package` (an `MlsMessage` KeyPackage), or
    /// defers it while a higher-priority vote runs (see [`Submission`]).
    pub fn propose_add(
        &mut self,
        group_id: &GroupId,
        key_package: &[u8],
        now: Timestamp,
    ) -> Result<(Submission, Output), EngineError> {
        self.proposal_command(group_id, now, |group, step| {
            keypackages::propose_add(group, step, key_package)
        })
    }

    /// Opens a vote on removing `member`, or defers it while a higher-priority vote runs (see
    /// [`Submission`]).
    pub fn propose_remove(
        &mut self,
        group_id: &GroupId,
        member: MemberId,
        now: Timestamp,
    ) -> Result<(Submission, Output), EngineError> {
        self.proposal_command(group_id, now, |group, step| {
            if !group.roster().contains(&member) {
                return reject(
                    RejectReason::InvalidRequest,
                    format!("{member} is not a member"),
                );
            }
            freeze::submit(group, step, ProposalAction::Remove { member }, None)
        })
    }

    /// Asks to leave the group. The request is final without a vote (only this member can make
    /// it); a steward other than this member commits the removal, after which this member's
    /// state of the group is erased ([`GroupEvent::Removed`]). Deferred while a higher-priority vote
    /// runs (see [`Submission`]); asking again while the request is pending returns it.
    pub fn leave(
        &mut self,
        group_id: &GroupId,
        now: Timestamp,
    ) -> Result<(Submission, Output), EngineError> {
        self.proposal_command(group_id, now, leave::request)
    }

    /// Casts this node's vote on an open proposal.
    pub fn vote(
        &mut self,
        group_id: &GroupId,
        proposal: ProposalId,
        yes: bool,
        now: Timestamp,
    ) -> Result<Output, EngineError> {
        self.group_command(group_id, now, |group, step| {
            governance::cast_vote(group, step, proposal, yes)
        })
    }

    /// Refuses a group id this node is already in or joining.
    fn ensure_new(&self, group_id: &GroupId) -> Result<(), EngineError> {
        if self.groups.contains_key(group_id) || self.joins.contains_key(group_id) {
            return Err(EngineError::GroupExists(group_id.clone()));
        }
        Ok(())
    }
}
