//! Unit tests of the multi-steward policy's scoring of emergency proposals and of the stagger
//! of proposals every member would open.

use super::*;
use crate::roster::Roster;
use crate::testing::{NO_MEMBERS, NO_OPEN, NO_READY, roster};
use crate::types::Epoch;

const EPOCH: Epoch = 7;

fn view<'a>(gid: &'a GroupId, r: &'a Roster, me: MemberId) -> EpochView<'a> {
    EpochView {
        group_id: gid,
        epoch: EPOCH,
        roster: r,
        me,
        pending_removals: &NO_MEMBERS,
        ready: &NO_READY,
        open: &NO_OPEN,
        rejoins: &[],
    }
}

fn deadlock() -> ProposalAction {
    ProposalAction::Emergency {
        violation: Violation::Deadlock,
        target: None,
    }
}

fn proposes_deadlock(actions: &[PolicyAction]) -> bool {
    actions
        .iter()
        .any(|a| matches!(a, PolicyAction::Propose { action, .. } if state::is_deadlock(action)))
}

#[test]
fn only_the_groups_verdict_on_an_emergency_proposal_scores_its_owner() {
    let (gid, r) = (GroupId::new(b"g".to_vec()).unwrap(), roster(4));
    let config = Arc::new(MultiPolicyConfig::default());
    let owner = MemberId([1; 20]);
    let accusation = ProposalAction::Emergency {
        violation: Violation::Inactivity,
        target: Some(MemberId([2; 20])),
    };
    let mut p = MultiPolicy::new(config.clone());
    let v = view(&gid, &r, MemberId([0; 20]));
    for _ in 0..5 {
        p.on_decided(&v, &owner, &accusation, Verdict::Failed, Timestamp(1));
        p.on_decided(&v, &owner, &deadlock(), Verdict::Failed, Timestamp(1));
    }
    assert_eq!(
        p.state.scores.get(&config, &owner),
        config.default_score,
        "proposals that failed for want of votes (a partition) cost nothing"
    );
    p.on_decided(&v, &owner, &accusation, Verdict::No, Timestamp(2));
    assert_eq!(
        p.state.scores.get(&config, &owner),
        config.default_score - config.penalty_false_emergency,
        "a rejected accusation does"
    );
    p.on_decided(&v, &owner, &accusation, Verdict::Yes, Timestamp(3));
    assert_eq!(
        p.state.scores.get(&config, &owner),
        config.default_score - config.penalty_false_emergency + config.reward_emergency
    );
}

#[test]
fn after_a_failed_attempt_members_open_the_next_deadlock_proposal_one_after_another() {
    let (gid, r) = (GroupId::new(b"g".to_vec()).unwrap(), roster(8));
    let config = MultiPolicyConfig::default();
    let stagger = config.stagger_ms();
    let failed_at = Timestamp(50_000);
    // Every member saw the epoch's elections fail, the last one at `failed_at`.
    let states: Vec<(MemberId, State)> = r
        .ids()
        .map(|me| {
            let mut s = State::default();
            s.enter_epoch(EPOCH, Timestamp(10_000));
            for round in 0..config.max_reelection_attempts {
                s.election_failed(EPOCH, round, failed_at);
            }
            (me, s)
        })
        .collect();
    let retry_round = config.max_reelection_attempts;
    let order = list::ranked(&r, &[], EPOCH, retry_round, &gid);
    let elect = |_| Vec::new();
    for (me, state) in &states {
        let rank = order.iter().position(|m| m == me).unwrap() as u64;
        let mut s = state.clone();
        let at_once = s.plan(&view(&gid, &r, *me), &config, failed_at, elect);
        assert_eq!(
            proposes_deadlock(&at_once.proposals),
            rank == 0,
            "only the first in election order opens at once (rank {rank})"
        );
        let mut s = state.clone();
        let turn = failed_at.plus_ms(rank * stagger);
        let later = s.plan(&view(&gid, &r, *me), &config, turn, elect);
        assert!(
            proposes_deadlock(&later.proposals),
            "rank {rank} at its turn"
        );
    }
    // A failed deadlock proposal restarts the turns from its failure.
    let (last, state) = states
        .iter()
        .find(|(me, _)| *me == order[order.len() - 1])
        .unwrap();
    let mut s = state.clone();
    let again = Timestamp(90_000);
    s.deadlock_failed(again);
    let early = s.plan(
        &view(&gid, &r, *last),
        &config,
        again.plus_ms(stagger),
        elect,
    );
    assert!(!proposes_deadlock(&early.proposals));
    assert!(
        s.next_check
            .is_some_and(|t| t <= again.plus_ms((order.len() as u64 - 1) * stagger)),
        "the member plans to check again by its turn"
    );
}

#[test]
fn the_auto_model_lets_only_stewards_vote_on_membership_above_its_threshold() {
    let gid = GroupId::new(b"g".to_vec()).unwrap();
    let config = Arc::new(MultiPolicyConfig {
        consensus_model: ConsensusModel::Auto,
        small_consensus_above: 5,
        ..MultiPolicyConfig::default()
    });
    for (size, small) in [(5, false), (6, true)] {
        let r = roster(size);
        let mut p = MultiPolicy::new(config.clone());
        p.state.list = r.ids().take(3).collect();
        let v = view(&gid, &r, MemberId([0; 20]));
        let voters = p.voters(&v, ProposalKind::Membership);
        assert_eq!(voters.is_some(), small, "{size} members");
        if let Some(voters) = voters {
            assert_eq!(voters, p.state.list);
        }
        // Elections and emergency proposals: always every member.
        assert_eq!(p.voters(&v, ProposalKind::Election), None);
        assert_eq!(p.voters(&v, ProposalKind::Emergency), None);
    }
}
