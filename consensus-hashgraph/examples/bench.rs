//! Cost for one member to validate every vote of one proposal and reach the decision.
//!
//! ```text
//! cargo run --release -p consensus-hashgraph --example bench -- --voters 1000,10000 [--runs 3] [--batch 1024]
//! ```
//!
//! For each voter count `n`: `n` signers and all their votes (gossipsub mode: one `Vote` message
//! each, 3 in 4 YES, shuffled) are generated first, outside the measurement. Then one member builds
//! the voter set (measured separately: key decompression happens once per voter set) and ingests the
//! encoded proposal and every encoded vote, then flushes; the measurement ends when every vote is
//! verified and the decision is reached. Time is this thread's CPU time
//! (`clock_gettime(CLOCK_THREAD_CPUTIME_ID)` on 64-bit Linux), else wall time (reported in `clock`).
//! `verify_only_ms` is a baseline measured right after, in the same process: the same signatures
//! through `Ed25519::verify_batch` alone, in batches of the same size; the difference is what the
//! engine adds (decoding, checks, hashing, bookkeeping, store). Prints one JSON object per run.

use std::sync::Arc;
use std::time::Instant;

use consensus_hashgraph::{
    BatchItem, Config, Consensus, ConsensusMessage, Ed25519, Ed25519Key, Ed25519Signer, Event,
    MemoryStore, ProposalDigest, ProposalParams, SignatureScheme, Signer, Vote, VoterSet,
    own_vote_id, vote_hash,
};
use rand::SeedableRng;
use rand::seq::SliceRandom;

/// Nanoseconds of CPU time used by this thread (`clock_gettime(CLOCK_THREAD_CPUTIME_ID)`).
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
fn thread_cpu_ns() -> Option<u64> {
    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }
    unsafe extern "C" {
        fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec (two 64-bit fields on 64-bit Linux) and the clock
    // id is a constant the kernel defines; the call writes only into `ts`.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// Elsewhere: no thread CPU clock, fall back to wall time.
#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
fn thread_cpu_ns() -> Option<u64> {
    None
}

struct Clock {
    cpu: Option<u64>,
    wall: Instant,
}

impl Clock {
    fn start() -> Self {
        Clock {
            cpu: thread_cpu_ns(),
            wall: Instant::now(),
        }
    }

    fn elapsed_ms(&self) -> f64 {
        match (self.cpu, thread_cpu_ns()) {
            (Some(a), Some(b)) => (b - a) as f64 / 1e6,
            _ => self.wall.elapsed().as_secs_f64() * 1e3,
        }
    }

    fn kind() -> &'static str {
        if thread_cpu_ns().is_some() {
            "thread_cpu"
        } else {
            "wall"
        }
    }
}

fn seed(i: usize) -> [u8; 32] {
    let mut s = [0u8; 32];
    s[..8].copy_from_slice(&(i as u64).to_le_bytes());
    s[8] = 0xb5;
    s
}

fn make_vote(signer: &Ed25519Signer, digest: &ProposalDigest, yes: bool, now: u64) -> Vote {
    let owner = signer.public_key().to_vec();
    let mut v = Vote {
        vote_id: own_vote_id(digest, &owner, now),
        vote_owner: owner,
        proposal_id: digest.proposal_id(),
        timestamp: now,
        vote: yes,
        proposal_hash: digest.as_bytes().to_vec(),
        ..Vote::default()
    };
    let h = vote_hash(&v);
    v.vote_hash = h.to_vec();
    v.signature = signer.sign(&h).expect("ring signs");
    v
}

fn run(n: usize, batch: usize) -> String {
    let now = 1_750_000_000_000u64;
    let signers: Vec<Ed25519Signer> = (0..n)
        .map(|i| Ed25519Signer::from_seed(seed(i)).expect("seed"))
        .collect();
    let keys: Vec<Vec<u8>> = signers.iter().map(|s| s.public_key().to_vec()).collect();

    // The proposal comes from signer 0 (with its YES vote); the member measured is signer 1.
    let owner_voters = Arc::new(VoterSet::new(&keys).expect("voter set"));
    let mut owner = Consensus::<MemoryStore>::new(Config::default(), MemoryStore::new());
    let params = ProposalParams {
        name: "bench".into(),
        payload: b"add member".to_vec(),
        voters: owner_voters,
        expiration_timestamp: now + 60_000,
        liveness_criteria_yes: true,
    };
    let (digest, proposal) = owner
        .open(params, Some(true), &signers[0], now)
        .expect("open");
    let proposal_bytes = ConsensusMessage::Proposal(proposal).encode();
    let mut votes: Vec<Vec<u8>> = signers[1..]
        .iter()
        .enumerate()
        .map(|(i, s)| ConsensusMessage::Vote(make_vote(s, &digest, i % 4 != 3, now + 10)).encode())
        .collect();
    votes.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(n as u64));
    let bytes_per_vote =
        votes.iter().map(Vec::len).sum::<usize>() as f64 / votes.len().max(1) as f64;
    drop(signers);

    let setup = Clock::start();
    let voters = Arc::new(VoterSet::new(&keys).expect("voter set"));
    let voter_set_setup_ms = setup.elapsed_ms();

    let config = Config {
        batch_size: batch,
        ..Config::default()
    };
    let mut member = Consensus::<MemoryStore>::new(config, MemoryStore::new());
    let clock = Clock::start();
    member
        .ingest_bytes(&proposal_bytes, &voters, now + 20)
        .expect("proposal");
    for v in &votes {
        member.ingest_bytes(v, &voters, now + 30).expect("vote");
    }
    member.flush(now + 40).expect("flush");
    let per_member_ms = clock.elapsed_ms();

    let decision = member.decision(&digest).expect("decided");
    let tally = member.tally(&digest).expect("tally");
    let rejected = member
        .drain_events()
        .iter()
        .filter(|e| matches!(e, Event::VoteRejected { .. }))
        .count();
    assert_eq!(tally.yes + tally.no, n as u32, "every vote counted");
    assert_eq!(rejected, 0);

    // Baseline in the same process: the same signatures through the scheme's batch verification
    // alone (no decoding, checks, bookkeeping or store), in batches of the same size.
    let decoded: Vec<(u32, Vote)> = votes
        .iter()
        .map(|b| match ConsensusMessage::decode(b).expect("decodes") {
            ConsensusMessage::Vote(v) => (voters.index_of(&v.vote_owner).expect("voter"), v),
            ConsensusMessage::Proposal(_) => unreachable!("only votes were encoded"),
        })
        .collect();
    let items: Vec<BatchItem<'_, Ed25519Key>> = decoded
        .iter()
        .map(|(i, v)| BatchItem {
            key: voters.key(*i).expect("key"),
            message: &v.vote_hash,
            signature: &v.signature,
        })
        .collect();
    let verify_clock = Clock::start();
    for chunk in items.chunks(batch.max(1)) {
        assert!(Ed25519.verify_batch(chunk).is_empty());
    }
    let verify_only_ms = verify_clock.elapsed_ms();
    format!(
        concat!(
            "{{\"bench\":\"consensus_validate\",\"voters\":{},\"per_member_ms\":{:.1},\"bytes_per_vote\":{:.0},",
            "\"voter_set_setup_ms\":{:.1},\"decision\":\"{}\",\"decided_at_yes\":{},\"decided_at_no\":{},",
            "\"verify_only_ms\":{:.1},\"batch_size\":{},\"scheme\":\"ed25519\",\"clock\":\"{}\"}}"
        ),
        n,
        per_member_ms,
        bytes_per_vote,
        voter_set_setup_ms,
        format!("{:?}", decision.outcome).to_lowercase(),
        decision.yes,
        decision.no,
        verify_only_ms,
        batch,
        Clock::kind(),
    )
}

fn main() {
    let mut voters = vec![1_000usize, 10_000];
    let mut runs = 1usize;
    let mut batch = Config::default().batch_size;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().unwrap_or_default();
        match arg.as_str() {
            "--voters" => {
                voters = value
                    .split(',')
                    .map(|v| v.trim().parse().expect("--voters 1000,10000"))
                    .collect()
            }
            "--runs" => runs = value.parse().expect("--runs N"),
            "--batch" => batch = value.parse().expect("--batch N"),
            other => panic!("unknown argument {other}; use --voters a,b --runs N --batch N"),
        }
    }
    for n in voters {
        assert!(n >= 2, "need at least 2 voters");
        for _ in 0..runs {
            println!("{}", run(n, batch));
        }
    }
}
