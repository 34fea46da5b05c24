//! The group engine's tunables, read from the `[group]` table of a node's TOML file.

use serde::Deserialize;

use crate::mls::MlsParams;

/// How the local member votes on proposals it receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VotingMode {
    /// Vote YES on every valid proposal and NO on invalid ones, immediately.
    Auto,
    /// Emit [`GroupEvent::VoteRequested`](crate::engine::event::GroupEvent::VoteRequested) and wait for the
    /// application to call `vote`; invalid proposals still get an automatic NO.
    Manual,
}

/// Group engine parameters (`[group]` in the node's TOML). Every field has a default.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct EngineParams {
    /// How long a voting proposal stays open, in milliseconds, before the per-voter part.
    pub vote_timeout_ms: u64,
    /// Added to a proposal's lifetime per eligible voter, in microseconds (default 1 ms: every
    /// member processes every vote, and gossip delivery to more members takes longer).
    pub vote_timeout_per_voter_us: u64,
    /// How many times the owner of an add or removal opens it in all (the first time
    /// included) when it ends without a decision for want of votes; each retry gets twice the
    /// previous lifetime. Then the application is told it was abandoned.
    pub max_vote_attempts: u32,
    /// At a proposal's expiry, count silent voters as YES (`true`) or NO.
    pub liveness_yes: bool,
    /// Automatic or application-driven voting.
    pub voting: VotingMode,
    /// How long a commit that references proposals not yet decided here is held while their
    /// votes arrive, in milliseconds, before it is rejected.
    pub commit_grace_ms: u64,
    /// How often a node waiting to join re-announces its KeyPackage, in milliseconds.
    pub join_announce_interval_ms: u64,
    /// Epochs for which a KeyPackage announced on the welcome topic stays buffered.
    pub key_package_epochs: u64,
    /// Messages from up to this many epochs ahead are buffered until the epoch is reached.
    pub max_future_epochs: u64,
    /// At most this many messages are buffered per group (future epochs and parked commits).
    pub max_buffered_messages: usize,
    /// Largest application payload accepted by `send`, in bytes.
    pub max_app_message_bytes: usize,
    /// Largest inbound envelope accepted, in bytes (the node lowers it to the transport limit).
    pub max_inbound_bytes: usize,
    /// Accepted commits retained per group (for catch-up and fork detection).
    pub retained_commits: usize,
    /// Past epochs whose message keys are kept to decrypt late application messages.
    pub max_past_epochs: usize,
    /// Finished proposals are forgotten this many epochs after the epoch they were opened in.
    pub proposal_retention_epochs: u64,
    /// How often a leaving member re-sends its leave until a commit applies it, and the least
    /// time a proposal stays undecided here before this member asks the others for it (whose
    /// answer re-sends their votes), in milliseconds.
    pub resend_interval_ms: u64,
    /// How often a status beacon round happens, in milliseconds.
    pub status_interval_ms: u64,
    /// How many members, in expectation, send a status beacon per round (each member sends
    /// with probability `status_fanout / members`, so beacon traffic stays flat as groups grow).
    pub status_fanout: u32,
    /// How long a gap must last before this member asks for repair, in milliseconds.
    pub repair_delay_ms: u64,
    /// How long before a repair request is repeated, in milliseconds.
    pub repair_retry_ms: u64,
    /// Up to how long a member waits (randomly) before answering a repair request, so that
    /// one answer usually suffices, in milliseconds.
    pub repair_backoff_ms: u64,
    /// Application messages kept to answer repair requests.
    pub message_log: usize,
    /// How many members, in expectation, answer one catch-up request besides the committer of
    /// the epoch asked about (each answers with probability `catch_up_fanout × 2^attempt /
    /// members`; `attempt` counts the asker's unanswered requests).
    pub catch_up_fanout: u32,
    /// How many members, in expectation, publish an applied commit once more (after a random
    /// backoff, unless someone else did), so a commit lost on some links still reaches everyone
    /// before a backup steward's turn comes: each member echoes with probability
    /// `commit_echo_fanout / members`.
    pub commit_echo_fanout: u32,
    /// After a restart this member does not commit for this long, in milliseconds: it
    /// announces its epoch at once, and members that moved on meanwhile answer with the commits
    /// it missed (committing in an epoch others have left would only fork).
    pub restart_quiet_ms: u64,
}

impl Default for EngineParams {
    fn default() -> Self {
        EngineParams {
            vote_timeout_ms: 10_000,
            vote_timeout_per_voter_us: 1_000,
            max_vote_attempts: 3,
            liveness_yes: true,
            voting: VotingMode::Auto,
            commit_grace_ms: 10_000,
            join_announce_interval_ms: 5_000,
            key_package_epochs: 3,
            max_future_epochs: 8,
            max_buffered_messages: 4_096,
            max_app_message_bytes: 64 * 1024,
            max_inbound_bytes: 16 * 1024 * 1024,
            retained_commits: 64,
            max_past_epochs: 3,
            proposal_retention_epochs: 16,
            resend_interval_ms: 3_000,
            status_interval_ms: 2_000,
            status_fanout: 6,
            repair_delay_ms: 400,
            repair_retry_ms: 2_000,
            repair_backoff_ms: 250,
            message_log: 1_024,
            catch_up_fanout: 3,
            commit_echo_fanout: 3,
            restart_quiet_ms: 2_000,
        }
    }
}

/// Room an application message's framing takes in one transport payload, at most: the
/// envelope, the MLS `PrivateMessage` header and sender data (with a group id of up to 255
/// bytes, twice), the causal history ids, the signature and AEAD tags. A node refuses
/// `max_app_message_bytes` larger than the transport's largest payload less this.
pub const APP_MESSAGE_FRAMING_BYTES: usize = 2 * 1024;

/// A `[group]` setting that cannot work, named.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid [group] setting `{key}`: {reason}")]
pub struct InvalidParam {
    /// The setting's key in the `[group]` table.
    pub key: &'static str,
    /// Why it cannot work.
    pub reason: &'static str,
}

impl EngineParams {
    /// Refuses settings that cannot work, naming the first offending key: timers of zero
    /// (a zero interval would make a busy loop of beacons, re-announcements or re-sends, a zero
    /// lifetime or grace would decide or drop everything at once), zero-sized limits and
    /// buffers, and no vote attempt at all.
    pub fn validate(&self) -> Result<(), InvalidParam> {
        let positive: [(&'static str, u64); 9] = [
            ("vote_timeout_ms", self.vote_timeout_ms),
            ("commit_grace_ms", self.commit_grace_ms),
            ("join_announce_interval_ms", self.join_announce_interval_ms),
            ("resend_interval_ms", self.resend_interval_ms),
            ("status_interval_ms", self.status_interval_ms),
            ("repair_retry_ms", self.repair_retry_ms),
            ("max_buffered_messages", self.max_buffered_messages as u64),
            ("max_app_message_bytes", self.max_app_message_bytes as u64),
            ("max_inbound_bytes", self.max_inbound_bytes as u64),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(InvalidParam {
                    key,
                    reason: "must be at least 1",
                });
            }
        }
        if self.max_vote_attempts == 0 {
            return Err(InvalidParam {
                key: "max_vote_attempts",
                reason: "must be at least 1 (the first attempt)",
            });
        }
        if self.max_app_message_bytes > self.max_inbound_bytes {
            return Err(InvalidParam {
                key: "max_app_message_bytes",
                reason: "exceeds max_inbound_bytes: such a message could never be received",
            });
        }
        Ok(())
    }

    /// The lifetime of a proposal with `voters` eligible voters, opened for the
    /// `attempt`-th time (from 0), in milliseconds.
    pub fn vote_timeout_for(&self, voters: usize, attempt: u32) -> u64 {
        let per_voter = self.vote_timeout_per_voter_us.saturating_mul(voters as u64) / 1_000;
        self.vote_timeout_ms
            .saturating_add(per_voter)
            .saturating_mul(1 << attempt.min(8))
    }

    /// The MLS-layer parameters implied by these.
    pub fn mls(&self) -> MlsParams {
        MlsParams {
            max_past_epochs: self.max_past_epochs,
            ..MlsParams::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_that_cannot_work_are_refused_by_name() {
        assert_eq!(EngineParams::default().validate(), Ok(()));
        let zero = |set: fn(&mut EngineParams)| {
            let mut p = EngineParams::default();
            set(&mut p);
            p.validate().map_err(|e| e.key)
        };
        assert_eq!(zero(|p| p.vote_timeout_ms = 0), Err("vote_timeout_ms"));
        assert_eq!(zero(|p| p.commit_grace_ms = 0), Err("commit_grace_ms"));
        assert_eq!(
            zero(|p| p.join_announce_interval_ms = 0),
            Err("join_announce_interval_ms")
        );
        assert_eq!(
            zero(|p| p.resend_interval_ms = 0),
            Err("resend_interval_ms")
        );
        assert_eq!(
            zero(|p| p.status_interval_ms = 0),
            Err("status_interval_ms")
        );
        assert_eq!(zero(|p| p.repair_retry_ms = 0), Err("repair_retry_ms"));
        assert_eq!(
            zero(|p| p.max_buffered_messages = 0),
            Err("max_buffered_messages")
        );
        assert_eq!(
            zero(|p| p.max_app_message_bytes = 0),
            Err("max_app_message_bytes")
        );
        assert_eq!(zero(|p| p.max_inbound_bytes = 0), Err("max_inbound_bytes"));
        assert_eq!(zero(|p| p.max_vote_attempts = 0), Err("max_vote_attempts"));
        assert_eq!(
            zero(|p| p.max_app_message_bytes = p.max_inbound_bytes + 1),
            Err("max_app_message_bytes")
        );
        let p = EngineParams {
            status_interval_ms: 0,
            ..EngineParams::default()
        };
        let message = p.validate().unwrap_err().to_string();
        assert!(message.contains("[group]") && message.contains("`status_interval_ms`"));
    }

    #[test]
    fn a_proposals_lifetime_grows_with_its_voters_and_doubles_per_attempt() {
        let p = EngineParams::default();
        assert_eq!(p.vote_timeout_for(0, 0), p.vote_timeout_ms);
        assert_eq!(p.vote_timeout_for(1_000, 0), p.vote_timeout_ms + 1_000);
        assert_eq!(p.vote_timeout_for(10_000, 0), p.vote_timeout_ms + 10_000);
        assert_eq!(
            p.vote_timeout_for(10_000, 2),
            4 * (p.vote_timeout_ms + 10_000)
        );
        // Absurd inputs neither overflow nor shrink the lifetime.
        assert!(p.vote_timeout_for(usize::MAX, u32::MAX) >= p.vote_timeout_for(usize::MAX, 0));
    }
}
