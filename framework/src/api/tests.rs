//! The canonical JSON form, pinned: exact texts for representative values, round trips for
//! every event, and the lists the spec is checked against.

use serde_json::{Value, json};

use super::*;
use crate::engine::{GroupEvent, RejectReason};
use crate::proposal::{ProposalAction, Verdict, Violation};
use crate::types::{GroupId, MemberId, ProposalId};

fn gid() -> GroupId {
    GroupId::new(b"demo".to_vec()).unwrap()
}

fn m(n: u8) -> MemberId {
    MemberId([n; 20])
}

fn p(n: u8) -> ProposalId {
    ProposalId::from_slice(&[n; 32]).unwrap()
}

/// One engine event of every kind.
fn every_engine_event() -> Vec<GroupEvent> {
    let g = gid();
    vec![
        GroupEvent::GroupCreated {
            group_id: g.clone(),
            epoch: 0,
        },
        GroupEvent::JoinRequested {
            group_id: g.clone(),
            key_package_ref: vec![1, 2],
        },
        GroupEvent::Joined {
            group_id: g.clone(),
            epoch: 3,
            members: 4,
        },
        GroupEvent::KeyPackageReceived {
            group_id: g.clone(),
            member: m(1),
        },
        GroupEvent::ProposalOpened {
            group_id: g.clone(),
            proposal: p(1),
            owner: m(2),
            action: ProposalAction::Add { member: m(1) },
            epoch: 3,
        },
        GroupEvent::VoteRequested {
            group_id: g.clone(),
            proposal: p(1),
            action: ProposalAction::Remove { member: m(3) },
        },
        GroupEvent::VoteCast {
            group_id: g.clone(),
            proposal: p(1),
            yes: true,
        },
        GroupEvent::ProposalDecided {
            group_id: g.clone(),
            proposal: p(1),
            action: ProposalAction::Election {
                retry_round: 0,
                stewards: vec![m(1), m(2)],
            },
            outcome: Verdict::Yes,
            yes: 3,
            no: 1,
            eligible: 4,
        },
        GroupEvent::ProposalRetried {
            group_id: g.clone(),
            failed: p(1),
            retry: p(2),
            action: ProposalAction::Leave { member: m(4) },
            attempt: 1,
            vote_timeout_ms: 2000,
        },
        GroupEvent::ProposalAbandoned {
            group_id: g.clone(),
            proposal: p(2),
            action: ProposalAction::Emergency {
                violation: Violation::Inactivity,
                target: Some(m(5)),
            },
            attempts: 3,
            reason: "no quorum".into(),
        },
        GroupEvent::CommitCreated {
            group_id: g.clone(),
            epoch: 4,
            proposals: vec![p(1), p(2)],
        },
        GroupEvent::EpochAdvanced {
            group_id: g.clone(),
            epoch: 4,
            committer: m(1),
            added: vec![m(6)],
            removed: vec![m(3)],
            members: 4,
            authenticator: vec![9; 32],
        },
        GroupEvent::MessageReceived {
            group_id: g.clone(),
            sender: m(2),
            message_id: vec![7; 16],
            payload: b"hi".to_vec(),
            epoch: 4,
            resent: false,
        },
        GroupEvent::ForkResolved {
            group_id: g.clone(),
            fork_epoch: 2,
            survived: false,
        },
        GroupEvent::Removed {
            group_id: g.clone(),
            epoch: 5,
            committer: m(1),
        },
        GroupEvent::Equivocation {
            group_id: g.clone(),
            proposal: p(1),
            voter: m(2),
        },
        GroupEvent::PublishFailed {
            topic: "/t".into(),
            detail: "closed".into(),
        },
        GroupEvent::Rejected {
            group_id: None,
            reason: RejectReason::Malformed,
            detail: "x".into(),
        },
    ]
}

#[test]
fn a_message_event_has_its_exact_canonical_form() {
    let event = Event::from(every_engine_event().swap_remove(12));
    let got: Value = serde_json::from_str(&event.to_json()).unwrap();
    assert_eq!(
        got,
        json!({
            "type": "message_received",
            "group": "ZGVtbw==",
            "sender": encode_bytes(&[2; 20]),
            "message_id": encode_bytes(&[7; 16]),
            "payload": "aGk=",
            "epoch": 4,
            "resent": false,
        })
    );
}

#[test]
fn a_decision_names_its_change_and_outcome_in_plain_words() {
    let event = Event::from(every_engine_event().swap_remove(7));
    let got: Value = serde_json::from_str(&event.to_json()).unwrap();
    assert_eq!(got["type"], "decision_made");
    assert_eq!(got["outcome"], "approved");
    assert_eq!(got["change"]["kind"], "steward_election");
    assert_eq!(got["change"]["stewards"][1], encode_bytes(&[2; 20]));
    assert_eq!(
        (got["approvals"].as_u64(), got["rejections"].as_u64()),
        (Some(3), Some(1))
    );
    // Nothing of how the decision was reached: no votes' wire form, no backend, no "proposal".
    let text = event.to_json();
    assert!(
        !text.contains("proposal") && !text.contains("consensus"),
        "{text}"
    );
}

#[test]
fn every_engine_event_maps_to_an_api_event_that_round_trips_and_is_listed() {
    let mut seen = Vec::new();
    for engine_event in every_engine_event() {
        let event = Event::from(engine_event);
        let text = event.to_json();
        let back: Event = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(back, event);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["type"], event.type_name());
        assert!(
            EVENT_TYPES.contains(&event.type_name()),
            "{}",
            event.type_name()
        );
        seen.push(event.type_name());
    }
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(
        seen.len(),
        EVENT_TYPES.len(),
        "every listed event type is produced"
    );
}

#[test]
fn every_reject_reason_has_a_distinct_listed_name() {
    use RejectReason::*;
    let all = [
        Oversized,
        Malformed,
        WrongTopic,
        UnknownGroup,
        StaleEpoch,
        FutureEpoch,
        NotAMember,
        MlsRejected,
        InvalidKeyPackage,
        InvalidProposal,
        InvalidVote,
        IneligibleVoter,
        DuplicateVote,
        UnauthorizedCommitter,
        CommitMismatch,
        CommitUnapprovedProposal,
        BufferFull,
        InvalidRequest,
        ForeignWelcome,
        Unconfirmed,
    ];
    let names: Vec<&str> = all.iter().map(|r| reason_name(*r)).collect();
    assert_eq!(names, REJECT_REASONS);
}

#[test]
fn error_codes_are_distinct_ascending_and_their_json_carries_number_and_name() {
    let numbers: Vec<u32> = ERROR_CODES.iter().map(|c| c.code()).collect();
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
    assert_eq!(numbers.first(), Some(&1));
    let mut names: Vec<&str> = ERROR_CODES.iter().map(|c| c.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), ERROR_CODES.len());
    let e = ApiError::new(ErrorCode::UnknownGroup, "no such group");
    assert_eq!(
        e.to_json_value(),
        json!({"code": 8, "name": "unknown_group", "message": "no such group"})
    );
    // The serde name is the same as name().
    for code in ERROR_CODES {
        assert_eq!(serde_json::to_value(code).unwrap(), json!(code.name()));
    }
}

#[test]
fn malformed_byte_strings_are_refused_with_what_was_expected() {
    let bad = r#"{"type":"joined","group":"not base64!","epoch":1,"members":2}"#;
    let e = serde_json::from_str::<Event>(bad).unwrap_err().to_string();
    assert!(e.contains("not base64"), "{e}");
    let short = format!(
        r#"{{"type":"removed","group":"ZGVtbw==","epoch":1,"committer":"{}"}}"#,
        encode_bytes(&[1; 19])
    );
    let e = serde_json::from_str::<Event>(&short)
        .unwrap_err()
        .to_string();
    assert!(e.contains("member id"), "{e}");
}

#[test]
fn a_change_request_is_opened_with_its_decision_or_deferred() {
    let opened = ChangeRequest::from(crate::engine::Submission::Opened(p(1)));
    assert_eq!(
        serde_json::to_value(opened).unwrap(),
        json!({"status": "opened", "decision": encode_bytes(&[1; 32])})
    );
    let deferred = ChangeRequest::from(crate::engine::Submission::Deferred);
    assert_eq!(
        serde_json::to_value(deferred).unwrap(),
        json!({"status": "deferred"})
    );
}

/// `specs/api.md`, which must document everything listed here.
const SPEC: &str = include_str!("../../../specs/api.md");

#[test]
fn the_spec_documents_every_event_type_reject_reason_error_code_and_method() {
    for t in EVENT_TYPES {
        assert!(
            SPEC.contains(&format!("| `{t}` |")),
            "event {t} missing from the schema"
        );
    }
    for r in REJECT_REASONS {
        assert!(
            SPEC.contains(&format!("`{r}`")),
            "reject reason {r} missing"
        );
    }
    for c in ERROR_CODES {
        let row = format!("| {} | {} |", c.code(), c.name());
        assert!(SPEC.contains(&row), "error code row {row:?} missing");
    }
    for m in METHODS {
        assert!(
            SPEC.contains(&format!("| `{m}` |")),
            "method {m} missing from §8"
        );
    }
}
