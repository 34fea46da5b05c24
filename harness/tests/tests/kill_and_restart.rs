//! The kill test: one member of a live group runs as a separate OS process on SQLite storage
//! and is killed with SIGKILL at seeded random points — while it processes proposals, votes,
//! commits, welcomes and messages — then restarted on the same database file. After each
//! restart it must rejoin the group's current epoch (catching up on what it missed) with the
//! same roster and epoch authenticator as everyone else, and its message history must hold
//! every message it had acknowledged before, plus every message sent while it was down. Each
//! restart also reads the step markers the child writes around every batch: equal markers
//! prove that no batch was applied in part, and the count proves that no acknowledged batch
//! was lost.
//!
//! `DEMLS_KILL_SEED` replays another seed; `DEMLS_KILLS` changes the number of kill points.

mod relay;

use std::collections::BTreeSet;

use demls::{GroupId, Timestamp};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use relay::child::{ChildMember, database_in};
use relay::protocol::Command;
use relay::{KillPoint, Relay, seed};

/// The child's identity.
const CHILD: usize = 1_000;
/// In-process members the group keeps at most (the child and the steward included, +1).
const MAX_LOCALS: usize = 5;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Today's midnight (UTC) in ms: OpenMLS checks KeyPackage lifetimes against the wall clock.
fn t0() -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    now - now % 86_400_000
}

fn entropy(run_seed: u64, incarnation: u64) -> [u8; 32] {
    let mut s = seed(CHILD);
    s[16..24].copy_from_slice(&incarnation.to_be_bytes());
    s[24..].copy_from_slice(&run_seed.to_be_bytes());
    s
}

/// Everything the test tracks besides the network.
struct Run {
    relay: Relay,
    group: GroupId,
    rng: ChaCha8Rng,
    seed: u64,
    /// Messages in-process members sent since the child joined: the child must get them all.
    expected: BTreeSet<Vec<u8>>,
    /// The child's history at its last check: it may only grow.
    history: BTreeSet<Vec<u8>>,
    sent: u64,
}

impl Run {
    fn active_locals(&self) -> Vec<usize> {
        (0..self.relay.locals.len())
            .filter(|&i| self.relay.locals[i].active && self.relay.view(i, &self.group).is_some())
            .collect()
    }

    fn local_sends(&mut self) {
        let members = self.active_locals();
        let i = members[self.rng.gen_range(0..members.len())];
        self.sent += 1;
        let text = format!("message {} from {i}", self.sent);
        let id = self.relay.send_local(i, &self.group.clone(), &text);
        self.expected.insert(id);
    }

    fn child_sends(&mut self) {
        self.sent += 1;
        let command = Command::Send {
            group: self.group.clone(),
            payload: format!("message {} from the child", self.sent).into_bytes(),
            now: self.relay.now,
        };
        self.relay.call_child(command);
    }

    /// Adds a joiner, or removes an in-process member that is neither the steward nor the
    /// child, so the group keeps committing.
    fn change_membership(&mut self) {
        let members = self.active_locals();
        let now = Timestamp(self.relay.now);
        if members.len() < MAX_LOCALS || self.rng.gen_bool(0.3) {
            let i = self.relay.add_local(self.seed);
            let out = self.relay.locals[i]
                .engine
                .request_join(self.group.clone(), now)
                .unwrap();
            self.relay.apply(i, out);
        } else {
            let target = members[1 + self.rng.gen_range(0..members.len() - 1)];
            let target = self.relay.id(target);
            let (_, out) = self.relay.locals[0]
                .engine
                .propose_remove(&self.group, target, now)
                .unwrap();
            self.relay.apply(0, out);
        }
    }

    /// Whether the child and every active in-process member agree with the steward.
    fn converged(&mut self) -> bool {
        let Some(reference) = self.relay.view(0, &self.group) else {
            return false;
        };
        let locals_agree = self
            .active_locals()
            .iter()
            .all(|&i| self.relay.view(i, &self.group).as_ref() == Some(&reference));
        let child = self.relay.query_child(&self.group.clone());
        let child_agrees = child.is_some_and(|(view, _)| view.as_ref() == Some(&reference));
        locals_agree && child_agrees
    }

    /// Starts the child on its database and checks what the file holds: whole batches only
    /// (its step markers agree), and every batch it acknowledged before it was killed.
    fn start_child(&mut self, db: &std::path::Path, incarnation: u64) {
        let child = ChildMember::start(
            db,
            seed(CHILD),
            entropy(self.seed, incarnation),
            self.relay.now,
        );
        let (begin, end) = child.markers;
        assert_eq!(
            begin, end,
            "seed {}, run {incarnation}: a batch was applied in part",
            self.seed
        );
        assert!(
            end >= self.relay.child_steps,
            "seed {}, run {incarnation}: {} acknowledged batches, {end} on disk",
            self.seed,
            self.relay.child_steps
        );
        self.relay.child = Some(child);
    }

    /// Runs until everyone agrees (or fails with what differs).
    fn run_until_converged(&mut self, what: &str) {
        for _ in 0..30 {
            self.relay.run(2_000);
            if self.converged() {
                return;
            }
        }
        let steward = self.relay.view(0, &self.group);
        let child = self.relay.query_child(&self.group.clone()).map(|(v, _)| v);
        panic!(
            "seed {}: no convergence {what}: steward at {:?}, child at {:?}",
            self.seed,
            steward.map(|v| (v.epoch, v.members.len())),
            child.map(|v| v.map(|v| (v.epoch, v.members.len()))),
        );
    }

    /// The child's history must hold what it had, what it acknowledged and what was sent.
    fn check_history(&mut self, kill: usize) {
        let (_, history) = self.relay.query_child(&self.group.clone()).unwrap();
        let lost: Vec<_> = self.history.difference(&history).collect();
        assert!(
            lost.is_empty(),
            "seed {}, kill {kill}: history lost {lost:?}",
            self.seed
        );
        let unacked: Vec<_> = self.relay.child_acked.difference(&history).collect();
        assert!(
            unacked.is_empty(),
            "seed {}, kill {kill}: acknowledged messages missing {unacked:?}",
            self.seed
        );
        let missed: Vec<_> = self.expected.difference(&history).collect();
        assert!(
            missed.is_empty(),
            "seed {}, kill {kill}: {} of {} messages sent to the group never reached the child",
            self.seed,
            missed.len(),
            self.expected.len()
        );
        // The child's own messages (its history holds nothing else from before it joined)
        // reached the group, also those whose publication died with the process: the steward,
        // a member from the start, has them all.
        let own: BTreeSet<Vec<u8>> = history.difference(&self.expected).cloned().collect();
        let steward: BTreeSet<Vec<u8>> = self.relay.locals[0]
            .engine
            .message_history(&self.group)
            .unwrap()
            .into_iter()
            .map(|m| m.message_id)
            .collect();
        let unsent: Vec<_> = own.difference(&steward).collect();
        assert!(
            unsent.is_empty(),
            "seed {}, kill {kill}: {} of the child's {} messages never reached the group",
            self.seed,
            unsent.len(),
            own.len()
        );
        self.history = history;
    }
}

#[test]
fn a_member_killed_at_random_points_restarts_in_the_current_epoch_with_its_history() {
    let run_seed = env_number("DEMLS_KILL_SEED", 1);
    let kills = env_number("DEMLS_KILLS", 50) as usize;
    let dir = tempfile::tempdir().unwrap();
    let db = database_in(dir.path());
    let group = GroupId::new(b"kill-test".to_vec()).unwrap();
    let mut run = Run {
        relay: Relay::new(t0()),
        group: group.clone(),
        rng: ChaCha8Rng::seed_from_u64(run_seed),
        seed: run_seed,
        expected: BTreeSet::new(),
        history: BTreeSet::new(),
        sent: 0,
    };

    // The steward (in-process member 0) founds the group; two more members and the child join.
    let steward = run.relay.add_local(run_seed);
    let out = run.relay.locals[steward]
        .engine
        .create_group(group.clone(), Timestamp(run.relay.now))
        .unwrap();
    run.relay.apply(steward, out);
    for _ in 0..2 {
        run.change_membership();
        run.relay.run(5_000);
    }
    run.start_child(&db, 0);
    let now = run.relay.now;
    run.relay.call_child(Command::Join {
        group: group.clone(),
        now,
    });
    run.run_until_converged("after the child joined");

    let started = std::time::Instant::now();
    for kill in 0..kills {
        run.relay.kill = Some(KillPoint {
            commands: run.rng.gen_range(0..20),
            fraction: run.rng.gen_range(0.0..1.0),
        });
        // Group life until the kill point is reached.
        for _ in 0..12 {
            if run.relay.child.is_none() {
                break;
            }
            match run.rng.gen_range(0..5) {
                0 | 1 => run.local_sends(),
                2 => run.child_sends(),
                _ => run.change_membership(),
            }
            let ms = run.rng.gen_range(100..4_000);
            run.relay.run(ms);
        }
        if let Some(child) = run.relay.child.take() {
            child.kill();
        }
        run.relay.kill = None;
        // Life goes on without it: messages, and sometimes a commit it must catch up on.
        for _ in 0..run.rng.gen_range(0..3) {
            run.local_sends();
        }
        if run.rng.gen_bool(0.4) {
            run.change_membership();
        }
        run.relay.run(5_000);
        run.start_child(&db, kill as u64 + 1);
        run.run_until_converged(&format!("after kill {kill}"));
        // Messages of the current epoch it missed come back through repair (status beacons
        // name them, a member answers): give that its few rounds.
        run.relay.run(10_000);
        run.check_history(kill);
    }
    let epoch = run.relay.view(0, &group).unwrap().epoch;
    eprintln!(
        "seed {run_seed}: {kills} kills ({} while it worked on a command), epoch {epoch}, {} \
         messages, {} child commands, {:?}",
        run.relay.kills_during_commands,
        run.history.len(),
        run.relay.child_commands,
        started.elapsed()
    );
    assert!(
        epoch >= kills as u64 / 4,
        "the group kept committing (epoch {epoch})"
    );
    assert!(
        run.relay.kills_during_commands >= kills as u64 / 2,
        "most kills strike while the member works"
    );
}
