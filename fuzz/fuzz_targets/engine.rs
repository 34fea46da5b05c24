//! A live three-member group under attack. Each input restores the recorded session's three
//! converged members (every engine reopened on a copy of its stored state), then plays the
//! input's operations: envelopes derived from the traffic recorded before that state (replayed
//! or mutated: kind, epoch, group id, body bytes, branch tag, version; re-sealed under the key
//! of an epoch before the restored one, as a former member holding that key could; wrapped in a bundle or a
//! fork notice) or raw bytes, injected to one or every member on any of the group's topics,
//! interleaved with time passing. Honest members deliver to each other whatever they publish
//! in response. Then the honest members carry on: member 0 sends a message and, if the input
//! says so, member 1 proposes to remove member 2.
//!
//! Checked: no panic and no engine error; afterwards the honest members converge (the expected
//! roster, the same epoch and epoch authenticator everywhere) and each received the message.
//!
//! Input layout (missing bytes read as 0): one flags byte (bit 0: the removal), then up to
//! [`MAX_OPS`] operations, each an op byte `% 4` followed by its arguments:
//! - 0, 1 inject: template (u16 LE, modulo the recorded envelopes), recipient (`% 4`, 3 =
//!   all), topic (`% 4`: the template's own, group, welcome, join), mutation count (`% 5`),
//!   then each mutation (see [`mutate`]);
//! - 2 advance: u16 LE × 10 ms (at most [`MAX_ADVANCE_MS`] in total);
//! - 3 raw: recipient, topic, length (u16 LE `% 4096`) and that many bytes.
#![no_main]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use demls::engine::GroupTopics;
use demls::internals::wire::{self, BranchTag, Envelope, ForkNotice, Kind, bundle, sealed};
use demls::{GroupId, Topic};
use demls_fuzz::session::Net;
use demls_fuzz::traffic::{Opened, Traffic, recorded};
use libfuzzer_sys::fuzz_target;

/// Most operations one input plays.
const MAX_OPS: usize = 32;
/// Most simulated time the operations may let pass.
const MAX_ADVANCE_MS: u64 = 600_000;

/// Reads the input; past its end every byte is 0.
struct Input<'a> {
    data: &'a [u8],
}

impl Input<'_> {
    fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | (u64::from(self.u32()) << 32)
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head.to_vec()
    }
    fn pick<'t, T>(&mut self, items: &'t [T]) -> &'t T {
        &items[usize::from(self.u16()) % items.len()]
    }
}

/// The recorded session and the envelopes published before its converged state.
struct World {
    traffic: &'static Traffic,
    templates: Vec<Opened>,
    topics: GroupTopics,
    /// The keys of the epochs before the restored one: a former member may hold them. (The
    /// restored epoch's key is held by its members only, all honest here; nobody can know a
    /// later epoch's key.)
    keys: BTreeMap<u64, [u8; 16]>,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let traffic = recorded();
        let templates = traffic.opened(traffic.before_start);
        assert!(!templates.is_empty(), "the session published something");
        World {
            traffic,
            topics: GroupTopics::of(&traffic.group),
            templates,
            keys: traffic
                .keys
                .range(..traffic.start_epoch)
                .map(|(e, k)| (*e, *k))
                .collect(),
        }
    })
}

fn topic(w: &World, own: &Topic, which: u8) -> Topic {
    match which % 4 {
        0 => own.clone(),
        1 => w.topics.group.clone(),
        2 => w.topics.welcome.clone(),
        _ => w.topics.join.clone(),
    }
}

/// Seals `plain` as `kind` under the key of `epoch` (a plaintext kind is sealed as a
/// consensus message).
fn seal_as(kind: Kind, key: &[u8; 16], gid: &[u8], epoch: u64, nonce: u8, plain: &[u8]) -> Vec<u8> {
    let nonce = [nonce; sealed::SEAL_NONCE_LEN];
    match kind {
        Kind::Commit => sealed::seal(key, gid, epoch, nonce, plain),
        Kind::Certificate => {
            let mut id = [0u8; sealed::PROPOSAL_ID_LEN];
            let n = plain.len().min(id.len());
            id[..n].copy_from_slice(&plain[..n]);
            sealed::seal_certificate(key, gid, epoch, &id, nonce, plain)
        }
        Kind::Control => sealed::seal_control(key, gid, epoch, nonce, plain),
        Kind::CatchUp => {
            sealed::seal_catch_up(key, gid, epoch, nonce, plain.first().copied().unwrap_or(0))
        }
        _ => sealed::seal_consensus(key, gid, epoch, nonce, plain),
    }
}

/// Applies one mutation to `env`. The mutation byte `% 12` picks: 0 kind, 1 epoch delta (i8),
/// 2 epoch (u64), 3 group id (u16 length % 300, bytes), 4 flip a body byte (u16 position, xor
/// byte), 5 truncate the body (u16 position), 6 replace the body (u16 length % 2048, bytes),
/// 7 branch tag (length % 17, bytes), 8 version (u32), 9 re-seal a template's plaintext (u16
/// template, u16 position and xor byte to change in it, nonce byte) under the key of the
/// envelope's epoch, 10 bundle it with another template (u16), 11 turn it into a fork notice
/// (tag byte, u16 commit template, verdict byte).
fn mutate(w: &World, input: &mut Input<'_>, env: &mut Envelope) {
    let keys = &w.keys;
    match input.u8() % 12 {
        0 => env.kind = i32::from(input.u8() % 14),
        1 => env.epoch = env.epoch.wrapping_add_signed(i64::from(input.u8() as i8)),
        2 => env.epoch = input.u64(),
        3 => {
            let n = usize::from(input.u16()) % 300;
            env.group_id = input.bytes(n);
        }
        4 => {
            let at = usize::from(input.u16());
            let x = input.u8();
            if !env.body.is_empty() {
                let len = env.body.len();
                env.body[at % len] ^= x.max(1);
            }
        }
        5 => {
            let at = usize::from(input.u16()) % (env.body.len() + 1);
            env.body.truncate(at);
        }
        6 => {
            let n = usize::from(input.u16()) % 2048;
            env.body = input.bytes(n);
        }
        7 => {
            let n = usize::from(input.u8()) % 17;
            env.branch = input.bytes(n);
        }
        8 => env.version = input.u32(),
        9 => {
            let source = input.pick(&w.templates);
            let at = usize::from(input.u16());
            let x = input.u8();
            let nonce = input.u8();
            let mut plain = source
                .plain
                .clone()
                .unwrap_or_else(|| source.envelope.body.clone());
            if !plain.is_empty() && x != 0 {
                let len = plain.len();
                plain[at % len] ^= x;
            }
            if let Some(key) = keys.get(&env.epoch) {
                let kind = Kind::try_from(env.kind).unwrap_or(Kind::Consensus);
                env.body = seal_as(kind, key, &env.group_id, env.epoch, nonce, &plain);
            }
        }
        10 => {
            let other = input.pick(&w.templates).envelope.encode_to_vec();
            let items = vec![
                (env.epoch, env.encode_to_vec(), false),
                (env.epoch, other, false),
            ];
            if let Some(b) = bundle::pack(&env.group_id, items, usize::MAX).pop() {
                *env = Envelope::decode_checked(&b)
                    .map(|(e, _)| e)
                    .unwrap_or_else(|_| env.clone());
            }
        }
        _ => {
            let tag = input.u8();
            let commit = input.pick(&w.templates);
            let verdict = input.u8();
            let notice = ForkNotice {
                tags: vec![BranchTag {
                    epoch: env.epoch,
                    tag: vec![tag; 8],
                }],
                commit_epoch: commit.envelope.epoch,
                commit: commit.envelope.body.clone(),
                verdict: match keys.get(&env.epoch) {
                    Some(key) if verdict % 2 == 1 => sealed::seal_verdict(
                        key,
                        &env.group_id,
                        env.epoch,
                        [verdict; sealed::SEAL_NONCE_LEN],
                        u64::from(verdict / 2),
                    ),
                    _ => Vec::new(),
                },
            };
            env.kind = Kind::ForkNotice as i32;
            env.body = wire::encode(&notice);
        }
    }
}

/// Whether to describe what the input does on stderr (`DEMLS_FUZZ_DEBUG=1`, for triage).
fn debug() -> bool {
    static DEBUG: OnceLock<bool> = OnceLock::new();
    *DEBUG.get_or_init(|| std::env::var_os("DEMLS_FUZZ_DEBUG").is_some())
}

fn describe(payload: &[u8]) -> String {
    match Envelope::decode_checked(payload) {
        Ok((e, kind)) => format!(
            "{kind:?} epoch {} group {} body {} bytes",
            e.epoch,
            String::from_utf8_lossy(&e.group_id),
            e.body.len()
        ),
        Err(err) => format!("{} bytes: {err}", payload.len()),
    }
}

/// Hands `payload` to the recipient(s) `to` (`% 4`, 3 = all) and lets the honest members
/// deliver what they publish in response.
fn deliver(s: &mut Net, to: u8, topic: &Topic, payload: Vec<u8>) {
    if debug() {
        eprintln!("inject to {} on {topic}: {}", to % 4, describe(&payload));
    }
    match to % 4 {
        3 => (0..3).for_each(|i| s.deliver(i, topic, payload.clone())),
        i => s.deliver(usize::from(i), topic, payload),
    }
    s.flush();
}

fn play(w: &World, s: &mut Net, input: &mut Input<'_>) {
    let mut advanced = 0u64;
    for _ in 0..MAX_OPS {
        if input.is_empty() {
            break;
        }
        match input.u8() % 4 {
            0 | 1 => {
                let template = input.pick(&w.templates);
                let to = input.u8();
                let topic = topic(w, &template.topic, input.u8());
                let mut env = template.envelope.clone();
                for _ in 0..input.u8() % 5 {
                    mutate(w, input, &mut env);
                }
                deliver(s, to, &topic, env.encode_to_vec());
            }
            2 => {
                let ms = (u64::from(input.u16()) * 10).min(MAX_ADVANCE_MS - advanced);
                advanced += ms;
                if debug() {
                    eprintln!("advance {ms} ms");
                }
                s.advance(ms);
            }
            _ => {
                let to = input.u8();
                let topic = topic(w, &w.topics.group, input.u8());
                let n = usize::from(input.u16()) % 4096;
                let payload = input.bytes(n);
                deliver(s, to, &topic, payload);
            }
        }
    }
}

/// The honest members carry on and must agree.
fn carry_on(s: &mut Net, g: &GroupId, remove: bool) {
    s.run(60_000);
    let id = s.send(0, g, b"honest message");
    s.run(10_000);
    let honest: &[usize] = if remove {
        let target = s.id(2);
        s.propose_remove(1, g, target);
        s.run(120_000);
        &[0, 1]
    } else {
        &[0, 1, 2]
    };
    s.run(60_000);
    if debug() {
        for (i, m) in s.members.iter().enumerate() {
            let summary = m.engine.group_summary(g);
            eprintln!(
                "member {i}: epoch {:?}, {} members",
                summary.as_ref().map(|s| s.epoch),
                summary.map_or(0, |s| s.members.len())
            );
            for e in &m.events {
                eprintln!("  {e:?}");
            }
        }
    }
    s.assert_converged(g, honest);
    for &i in &honest[1..] {
        assert!(
            s.received(i, g).contains_key(&id),
            "member {i} did not receive the honest message"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let w = world();
    let mut input = Input { data };
    let remove = input.u8() & 1 == 1;
    let mut s = Net::restore(&w.traffic.start);
    play(w, &mut s, &mut input);
    carry_on(&mut s, &w.traffic.group, remove);
});
