//! Writes the seed corpora: runs the recorded session (three members create a group and join
//! it, chat, and remove one of them) and files every published envelope, and what opens from
//! it, under the targets that decode it. Configuration seeds are the TOML examples of the
//! repository's READMEs.
//!
//! `cargo +nightly run --release --bin seed [corpus dir]` (default: `fuzz/corpus`).
#![allow(clippy::print_stdout)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use consensus_hashgraph::{ConsensusMessage, proposal_digest};
use demls::internals::wire::{
    self, BranchTag, Chat, CommitInfo, Envelope, ForkNotice, Frame, Kind, Rejoin, Repair, bundle,
    frame, sealed,
};
use demls_fuzz::traffic::{Opened, recorded};
use demls_fuzz::{FIXED_GROUP, FIXED_KEY};
use demls_transport_logos::{Metadata, WakuMessage, segment_payload};

/// Most seeds filed per target from one source.
const PER_SOURCE: usize = 16;

struct Corpus {
    root: PathBuf,
    counts: BTreeMap<&'static str, usize>,
    seen: BTreeSet<(&'static str, Vec<u8>)>,
}

impl Corpus {
    fn add(&mut self, target: &'static str, bytes: &[u8]) {
        if !self.seen.insert((target, bytes.to_vec())) {
            return;
        }
        let n = self.counts.entry(target).or_default();
        let dir = self.root.join(target);
        std::fs::create_dir_all(&dir).expect("create the corpus directory");
        std::fs::write(dir.join(format!("seed-{n:03}")), bytes).expect("write a seed");
        *n += 1;
    }
}

/// The `sealed` target's mode byte that seals a plaintext in `domain`.
fn seal_mode(domain: u8) -> u8 {
    (0x80..=0x85)
        .find(|m| m % 6 == domain)
        .expect("six consecutive values")
}

fn config_examples(repo: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for file in [
        "README.md",
        "backends/storage-sqlite/README.md",
        "backends/transport-logos/README.md",
    ] {
        let Ok(text) = std::fs::read_to_string(repo.join(file)) else {
            continue;
        };
        let mut block: Option<String> = None;
        for line in text.lines() {
            match (&mut block, line.trim_start()) {
                (None, l) if l.starts_with("```toml") => block = Some(String::new()),
                (Some(b), l) if l.starts_with("```") => {
                    out.push(std::mem::take(b));
                    block = None;
                }
                (Some(b), _) => {
                    b.push_str(line);
                    b.push('\n');
                }
                _ => {}
            }
        }
    }
    out
}

fn main() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| here.join("corpus"));
    let mut c = Corpus {
        root,
        counts: BTreeMap::new(),
        seen: BTreeSet::new(),
    };
    let traffic = recorded();
    let opened: Vec<Opened> = traffic.opened(usize::MAX);
    let of_kind = |kind: Kind| opened.iter().filter(move |o| o.kind == kind);

    // Envelopes: the first few of every kind.
    let mut per_kind: BTreeMap<i32, usize> = BTreeMap::new();
    for o in &opened {
        let n = per_kind.entry(o.envelope.kind).or_default();
        if *n < 4 {
            c.add("envelope", &o.envelope.encode_to_vec());
            *n += 1;
        }
    }

    // Consensus messages, the group proposals inside them, and certificate parts: each
    // proposal with the votes recorded for it.
    let messages: Vec<ConsensusMessage> = of_kind(Kind::Consensus)
        .chain(of_kind(Kind::Certificate))
        .filter_map(|o| ConsensusMessage::decode(o.plain.as_deref()?).ok())
        .collect();
    let mut proposals = Vec::new();
    for m in &messages {
        c.add("consensus_message", &m.encode());
        if let ConsensusMessage::Proposal(p) = m {
            c.add("group_proposal", &p.payload);
            c.add("certificate", &m.encode());
            proposals.push(p.clone());
        }
    }
    let mut digests = Vec::new();
    for p in &proposals {
        let mut header = p.clone();
        header.votes.clear();
        header.round = 0;
        let digest = proposal_digest(&header);
        digests.push(digest.as_bytes().to_vec());
        let mut part = header.clone();
        part.votes = messages
            .iter()
            .filter_map(|m| match m {
                ConsensusMessage::Vote(v) if v.proposal_hash == digest.as_bytes() => Some(v),
                _ => None,
            })
            .chain(p.votes.iter())
            .cloned()
            .collect();
        part.round = part.votes.len() as u32;
        c.add("certificate", &ConsensusMessage::Proposal(part).encode());
    }
    digests.sort();
    digests.dedup();

    // Commit info, as a steward writes it.
    let info = CommitInfo {
        proposals: digests.clone(),
        rejoins: vec![Rejoin {
            member_id: demls::Identity::from_seed(demls_fuzz::session::seed(2))
                .expect("any 32 bytes are a seed")
                .member_id()
                .as_bytes()
                .to_vec(),
            key_package_ref: vec![7; 32],
            since_epoch: 1,
        }],
    };
    c.add("commit_info", &wire::encode(&info));
    c.add(
        "commit_info",
        &wire::encode(&CommitInfo {
            proposals: digests,
            rejoins: Vec::new(),
        }),
    );

    // Frames: recorded control frames, and a chat and a repair request as members write them.
    for o in of_kind(Kind::Control).take(PER_SOURCE) {
        if let Some(plain) = &o.plain {
            c.add("frame", plain);
        }
    }
    let chat = Frame {
        body: Some(frame::Body::Chat(Chat {
            message_id: vec![1; 16],
            payload: b"hello".to_vec(),
            sent_at: traffic.start.now.0,
            history: vec![vec![2; 16], vec![3; 16]],
            resent_from_epoch: Some(2),
        })),
    };
    c.add("frame", &wire::encode(&chat));
    let repair = Frame {
        body: Some(frame::Body::Repair(Repair {
            messages: vec![vec![1; 16]],
            proposals: vec![vec![4; 32]],
            vouch: vec![vec![5; 16]],
        })),
    };
    c.add("frame", &wire::encode(&repair));

    // Sealed bodies: every recorded plaintext sealed under the fixed key (opens in mode 0) and
    // as a plaintext to seal (modes from 0x80).
    for o in opened
        .iter()
        .filter(|o| o.plain.is_some())
        .take(4 * PER_SOURCE)
    {
        let plain = o.plain.as_deref().unwrap_or_default();
        let nonce = [9; sealed::SEAL_NONCE_LEN];
        let (domain, body) = match o.kind {
            Kind::Commit => (0, sealed::seal(&FIXED_KEY, FIXED_GROUP, 7, nonce, plain)),
            Kind::Certificate => (
                1,
                sealed::seal_certificate(&FIXED_KEY, FIXED_GROUP, 7, &[5; 32], nonce, plain),
            ),
            Kind::Consensus => (
                2,
                sealed::seal_consensus(&FIXED_KEY, FIXED_GROUP, 7, nonce, plain),
            ),
            Kind::Control => (
                3,
                sealed::seal_control(&FIXED_KEY, FIXED_GROUP, 7, nonce, plain),
            ),
            _ => continue,
        };
        c.add("sealed", &[&[0u8][..], &body].concat());
        c.add("sealed", &[&[seal_mode(domain)][..], plain].concat());
    }
    let catch_up = sealed::seal_catch_up(&FIXED_KEY, FIXED_GROUP, 7, [1; 12], 2);
    c.add("sealed", &[&[0u8][..], &catch_up].concat());
    c.add("sealed", &[seal_mode(4), 2]);
    let verdict = sealed::seal_verdict(&FIXED_KEY, FIXED_GROUP, 7, [1; 12], 3);
    c.add("sealed", &[&[0u8][..], &verdict].concat());
    c.add(
        "sealed",
        &[&[seal_mode(5)][..], &3u64.to_be_bytes()].concat(),
    );

    // Fork notices: a recorded commit sealed under the fixed key, with a verdict.
    for o in of_kind(Kind::Commit).take(4) {
        let Some(plain) = &o.plain else { continue };
        let e = o.envelope.epoch;
        let notice = ForkNotice {
            tags: (0..=e)
                .map(|epoch| BranchTag {
                    epoch,
                    tag: vec![epoch as u8; 8],
                })
                .collect(),
            commit_epoch: e,
            commit: sealed::seal(&FIXED_KEY, FIXED_GROUP, e, [2; 12], plain),
            verdict: sealed::seal_verdict(&FIXED_KEY, FIXED_GROUP, e, [3; 12], e),
        };
        c.add("fork_notice", &wire::encode(&notice));
    }
    c.add("fork_notice", &wire::encode(&ForkNotice::default()));

    // Bundles of recorded group traffic (the group is the fixed one).
    let bundleable: Vec<(u64, Vec<u8>, bool)> = opened
        .iter()
        .filter(|o| bundle::bundleable(o.kind) && o.envelope.group_id == FIXED_GROUP)
        .map(|o| (o.envelope.epoch, o.envelope.encode_to_vec(), false))
        .take(12)
        .collect();
    for (take, limit) in [(2, usize::MAX), (12, usize::MAX), (12, 4_000)] {
        let items = bundleable.iter().take(take).cloned().collect();
        for b in bundle::pack(FIXED_GROUP, items, limit) {
            if let Ok((env, _)) = Envelope::decode_checked(&b) {
                c.add("bundle", &env.body);
            }
        }
    }

    // KeyPackages, the Welcome and the tree.
    for o in of_kind(Kind::KeyPackage).chain(of_kind(Kind::Rejoin)) {
        c.add("key_package", &o.envelope.body);
    }
    let j = &traffic.joiner;
    c.add("welcome", &[&[0u8][..], &j.welcome].concat());
    c.add("welcome", &[&[1u8][..], &j.tree].concat());
    let len = (j.welcome.len() as u16).to_be_bytes();
    c.add("welcome", &[&[2u8][..], &len, &j.welcome, &j.tree].concat());

    // Waku messages and segments carrying recorded envelopes.
    for (i, o) in opened.iter().take(PER_SOURCE).enumerate() {
        let payload = o.envelope.encode_to_vec();
        let size = if i % 2 == 0 { 150 * 1024 } else { 256 };
        for segment in segment_payload(&payload, size).into_iter().take(3) {
            c.add("segment", &segment);
            let message = WakuMessage {
                payload: segment,
                content_topic: o.topic.as_str().to_owned(),
                timestamp: Some((traffic.start.now.0 * 1_000_000) as i64),
                meta: (i % 3 == 0).then(|| b"m".to_vec()),
                ..WakuMessage::default()
            };
            c.add("waku", &message.encode());
        }
    }
    for (i, o) in opened.iter().take(6).enumerate() {
        // Reassembly reads its input as unstructured bytes: recorded payloads give it variety.
        let mut bytes = vec![i as u8; 8];
        bytes.extend_from_slice(&o.envelope.body[..o.envelope.body.len().min(512)]);
        c.add("reassembly", &bytes);
    }

    // Metadata: bare, framed, and as an older peer writes it (field 2 only).
    let m = Metadata {
        cluster_id: Some(42),
        shards: vec![0, 3],
    };
    c.add("metadata", &[&[0u8][..], &m.encode()].concat());
    let mut framed = vec![1u8];
    prost::encoding::encode_varint(m.encode().len() as u64, &mut framed);
    framed.extend_from_slice(&m.encode());
    c.add("metadata", &framed);
    c.add("metadata", &[0, 0x08, 42, 0x10, 0]);

    // Configuration examples.
    for text in config_examples(here.parent().unwrap_or(here)) {
        c.add("config", text.as_bytes());
    }
    c.add("config", b"");

    // The live engine: nothing (the honest members just carry on), a removal, and each
    // recorded envelope before the converged state replayed to everyone, as is and re-sealed.
    c.add("engine", &[0]);
    c.add("engine", &[1]);
    for i in 0..traffic.opened(traffic.before_start).len() as u16 {
        let [lo, hi] = i.to_le_bytes();
        c.add("engine", &[0, 0, lo, hi, 3, 0, 0]);
        // Moved to the next epoch and re-sealed under its key with one byte of its plaintext
        // changed, then 100 s pass; the honest members then remove member 2.
        c.add(
            "engine",
            &[
                1, 0, lo, hi, 3, 0, 2, 1, 1, 9, lo, hi, 5, 0, 1, 1, 2, 0x10, 0x27,
            ],
        );
    }

    for (target, n) in &c.counts {
        println!("{target}: {n} seeds");
    }
}
