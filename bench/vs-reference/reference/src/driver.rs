//! N members of the de-mls 4.1.0 reference implementation in one process, driven through its
//! public API only, on the shared instant bus with one shared virtual clock.
//!
//! What this integrator does, and nothing more (each member on its own OpenMLS provider, MLS
//! signature key and vote-signing key):
//!
//! - the first member creates the conversation with the library's default
//!   `ConversationConfig` (its own timing, steward-list bounds and scoring defaults);
//! - a joiner mints a KeyPackage and announces it on a welcome topic that members and
//!   would-be members share; every member hands it to `sponsor_member`, as the reference
//!   gateway does (the epoch steward opens the voted add, the others keep it as a backup);
//! - every member votes YES as soon as the library raises `VoteRequested` (the application's
//!   automatic accept; the library's own auto-vote would cast the same vote later);
//! - what `drain_outbound` yields is published on the conversation topic; a `WelcomeReady`
//!   minted by this member is also published on the welcome topic, where the joiner opens it
//!   with `Conversation::join` (the reference gateway publishes welcomes the same way);
//! - after every inbound message and at every deadline `next_wakeup_in` reports, the member
//!   is polled and its events and outbound drained (again while a vote it cast produced more);
//! - every member's `WallClock` is one shared `MockClock` on the bus's virtual time.

use std::collections::HashMap;
use std::time::Duration;

use alloy::signers::local::PrivateKeySigner;
use de_mls::defaults::{DefaultConsensusPlugin, InMemoryPeerScoreStorage};
use de_mls::protos::de_mls::messages::v1::{MemberInvite, MemberWelcome};
use de_mls::{
    Conversation, ConversationConfig, ConversationEvent, DispatchOutcome, MemberId, MockClock,
    PeerScoringService, ScoringConfig, WallClock,
};
use hashgraph_like_consensus::signing::EthereumConsensusSigner;
use openmls::prelude::tls_codec::Serialize as _;
use openmls::prelude::{
    BasicCredential, Ciphersuite, CredentialWithKey, KeyPackage, MlsGroupCreateConfig,
};
use openmls_basic_credential::SignatureKeyPair;
use openmls_rust_crypto::OpenMlsRustCrypto;
use prost::Message as _;

use crate::bus::{self, Core, Publication, View, World};
use crate::measure::{Meter, Record, Traffic};
use crate::workload::{Bench, QUIET_BEFORE_REMOVE_MS, STEP_LIMIT_MS, pick_pair};

/// The implementation name printed in every record.
pub const IMPLEMENTATION: &str = "de-mls-4.1.0";

/// The ciphersuite the reference's own tests and gateway use (demls uses the same one).
const SUITE: Ciphersuite = Ciphersuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;

type Conv = Conversation<DefaultConsensusPlugin, InMemoryPeerScoreStorage, MockClock>;

/// The bus topics: the conversation's traffic, and the welcome topic (KeyPackage
/// announcements and welcomes) that members and would-be members share.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Topic {
    /// What the conversation broadcasts (`drain_outbound`).
    Conversation,
    /// KeyPackage announcements and welcomes.
    Welcome,
}

/// First byte of a payload on the welcome topic.
const TAG_KEY_PACKAGE: u8 = 1;
const TAG_WELCOME: u8 = 2;

/// One member: its provider (MLS key store), signers, and conversation once it has one.
struct Member {
    provider: OpenMlsRustCrypto,
    signer: SignatureKeyPair,
    consensus: DefaultConsensusPlugin,
    app_id: Vec<u8>,
    signature_key: Vec<u8>,
    conv: Option<Conv>,
}

/// The reference implementation's members on the instant bus.
pub struct ReferenceBench {
    core: Core<Topic>,
    clock: MockClock,
    /// What the shared clock reads, in virtual milliseconds.
    clock_ms: u64,
    members: Vec<Member>,
    /// Members that are (or are becoming) in the conversation, in join order.
    roster: Vec<usize>,
    /// Per member: the epoch the convergence check last saw.
    seen_epoch: Vec<Option<u64>>,
    errors: u64,
    error_kinds: HashMap<String, u64>,
    rep: u32,
}

impl ReferenceBench {
    /// An empty bench whose virtual clock starts at `start_ms` (Unix milliseconds).
    pub fn new(start_ms: u64, rep: u32) -> ReferenceBench {
        ReferenceBench {
            core: Core::new(start_ms),
            clock: MockClock::at(Duration::from_millis(start_ms)),
            clock_ms: start_ms,
            members: Vec::new(),
            roster: Vec::new(),
            seen_epoch: Vec::new(),
            errors: 0,
            error_kinds: HashMap::new(),
            rep,
        }
    }

    fn error(&mut self, what: &str, e: impl std::fmt::Display) {
        self.errors += 1;
        let text = format!("{what}: {e}");
        let count = self.error_kinds.entry(text.clone()).or_insert(0);
        *count += 1;
        if *count == 1 {
            eprintln!("de-mls member error (first of its kind): {text}");
        }
    }

    /// A new member with fresh keys; it listens on the welcome topic.
    fn add_member(&mut self) -> Result<usize, String> {
        let index = self.members.len();
        let signer = SignatureKeyPair::new(SUITE.signature_algorithm())
            .map_err(|e| format!("signature key: {e:?}"))?;
        let mut vote_key = [0u8; 32];
        vote_key[24..].copy_from_slice(&(index as u64 + 1).to_be_bytes());
        let vote_signer =
            PrivateKeySigner::from_slice(&vote_key).map_err(|e| format!("vote key: {e}"))?;
        self.members.push(Member {
            provider: OpenMlsRustCrypto::default(),
            signature_key: signer.to_public_vec(),
            signer,
            consensus: DefaultConsensusPlugin::new(EthereumConsensusSigner::new(vote_signer)),
            app_id: format!("member-{index}").into_bytes(),
            conv: None,
        });
        self.core.subscribe(index, Topic::Welcome);
        self.seen_epoch.push(None);
        Ok(index)
    }

    fn credential(&self, index: usize) -> CredentialWithKey {
        let m = &self.members[index];
        CredentialWithKey {
            credential: BasicCredential::new(m.app_id.clone()).into(),
            signature_key: m.signature_key.clone().into(),
        }
    }

    fn scoring() -> PeerScoringService<InMemoryPeerScoreStorage> {
        PeerScoringService::new(
            InMemoryPeerScoreStorage::default(),
            HashMap::new(),
            ScoringConfig::default(),
        )
    }

    /// Polls member `index` and carries out what it produced: YES on every vote request,
    /// welcomes it minted onto the welcome topic, outbound onto the conversation topic; again
    /// while it voted. Then reschedules its timer.
    fn service(&mut self, index: usize) {
        loop {
            let mut acted = false;
            let mut left = false;
            let mut errors = Vec::new();
            {
                let Member {
                    provider,
                    signer,
                    conv,
                    ..
                } = &mut self.members[index];
                let Some(conv) = conv.as_mut() else { break };
                if conv.poll(provider, signer).leave_requested {
                    left = true;
                }
                for event in conv.drain_events() {
                    match event {
                        ConversationEvent::VoteRequested { proposal_id, .. } => {
                            if let Err(e) = conv.vote(provider, signer, proposal_id, true) {
                                errors.push(("vote", e.to_string()));
                            }
                            acted = true;
                        }
                        ConversationEvent::WelcomeReady {
                            welcome,
                            minted_locally: true,
                        } => {
                            let mut payload = vec![TAG_WELCOME];
                            welcome.encode(&mut payload).expect("a Vec grows");
                            self.core
                                .publish(index, Topic::Welcome, payload, Vec::new());
                        }
                        ConversationEvent::Leaving => left = true,
                        _ => {}
                    }
                }
                for out in conv.drain_outbound() {
                    self.core
                        .publish(index, Topic::Conversation, out.payload, Vec::new());
                }
            }
            for (what, e) in errors {
                self.error(what, e);
            }
            if left {
                self.leave(index);
                break;
            }
            if !acted {
                break;
            }
        }
        let deadline = self.members[index]
            .conv
            .as_ref()
            .and_then(|c| c.next_wakeup_in())
            .map(|d| self.core.now + ceil_ms(d));
        self.core.schedule(index, deadline, false);
    }

    /// Member `index` has left (its removal committed): it stops listening.
    fn leave(&mut self, index: usize) {
        self.members[index].conv = None;
        self.core.unsubscribe(index, &Topic::Conversation);
        self.core.unsubscribe(index, &Topic::Welcome);
    }

    /// A would-be member mints a KeyPackage and announces it on the welcome topic.
    fn announce(&mut self, joiner: usize) -> Result<(), String> {
        let credential = self.credential(joiner);
        let m = &self.members[joiner];
        let bundle = KeyPackage::builder()
            .build(SUITE, &m.provider, &m.signer, credential)
            .map_err(|e| format!("key package: {e:?}"))?;
        let key_package_bytes = bundle
            .key_package()
            .tls_serialize_detached()
            .map_err(|e| format!("key package encoding: {e}"))?;
        let mut payload = vec![TAG_KEY_PACKAGE];
        MemberInvite { key_package_bytes }
            .encode(&mut payload)
            .expect("a Vec grows");
        self.core
            .publish(joiner, Topic::Welcome, payload, Vec::new());
        Ok(())
    }

    fn record(
        &self,
        workload: &str,
        n: usize,
        meter: &Meter,
        traffic: Traffic,
        virtual_start: u64,
        errors: u64,
    ) -> Record {
        let (cpu_s, wall_s) = meter.stop();
        Record {
            implementation: IMPLEMENTATION.to_string(),
            config: "default".to_string(),
            workload: workload.to_string(),
            n,
            cpu_s,
            wall_s,
            traffic: self.core.traffic.since(&traffic),
            virtual_s: (self.core.now - virtual_start) as f64 / 1e3,
            errors: self.errors - errors,
            rep: self.rep,
        }
    }
}

impl Bench for ReferenceBench {
    fn grow(&mut self, n: usize) -> Result<Record, String> {
        let meter = Meter::start();
        let traffic = self.core.traffic;
        let virtual_start = self.core.now;
        let errors = self.errors;
        let creator = self.add_member()?;
        let credential = self.credential(creator);
        let m = &self.members[creator];
        let conv = Conversation::create(
            "bench",
            &m.provider,
            credential,
            &MlsGroupCreateConfig::builder()
                .ciphersuite(SUITE)
                .use_ratchet_tree_extension(true)
                .build(),
            &m.signer,
            &m.consensus,
            Self::scoring(),
            self.clock.clone(),
            &m.app_id,
            ConversationConfig::default(),
            &[],
        )
        .map_err(|e| format!("create: {e}"))?;
        self.members[creator].conv = Some(conv);
        self.core.subscribe(creator, Topic::Conversation);
        self.service(creator);
        self.roster.push(creator);
        while self.roster.len() < n {
            let joiner = self.add_member()?;
            self.announce(joiner)?;
            self.roster.push(joiner);
            let nodes = self.roster.clone();
            let what = format!("de-mls: join of member {}", nodes.len());
            bus::settle(self, &nodes, STEP_LIMIT_MS, &what)?;
        }
        Ok(self.record("grow", n, &meter, traffic, virtual_start, errors))
    }

    fn remove(&mut self) -> Result<Record, String> {
        // Unmeasured: let whatever the last join set in motion finish first.
        bus::run_for(self, QUIET_BEFORE_REMOVE_MS);
        let n = self.roster.len();
        let is_steward = |i: usize| {
            self.members[i]
                .conv
                .as_ref()
                .is_some_and(|c| c.is_steward())
        };
        let (proposer, victim) = pick_pair(&self.roster, is_steward)?;
        let meter = Meter::start();
        let traffic = self.core.traffic;
        let virtual_start = self.core.now;
        let errors = self.errors;
        let victim_key = self.members[victim].signature_key.clone();
        let result = {
            let Member {
                provider,
                signer,
                conv,
                ..
            } = &mut self.members[proposer];
            let conv = conv.as_mut().ok_or("the proposer is not a member")?;
            let target = conv
                .mls_group()
                .members()
                .find(|m| m.signature_key == victim_key)
                .map(|m| MemberId::from(&m))
                .ok_or("the victim is not in the proposer's roster")?;
            conv.remove_member(provider, signer, &target)
        };
        if let Err(e) = result {
            return Err(format!("remove_member: {e}"));
        }
        self.service(proposer);
        self.roster.retain(|&m| m != victim);
        let nodes = self.roster.clone();
        let what = format!("de-mls: removal of member {victim}");
        bus::settle(self, &nodes, STEP_LIMIT_MS, &what)?;
        Ok(self.record("remove", n, &meter, traffic, virtual_start, errors))
    }
}

impl World for ReferenceBench {
    type Topic = Topic;

    fn core(&mut self) -> &mut Core<Topic> {
        &mut self.core
    }

    fn deliver(&mut self, to: usize, p: &Publication<Topic>) {
        let sender = self.members[p.from].app_id.clone();
        match p.topic {
            Topic::Conversation => {
                let Member {
                    provider,
                    signer,
                    conv,
                    ..
                } = &mut self.members[to];
                let Some(conv) = conv.as_mut() else { return };
                match conv.process_inbound(provider, signer, &sender, &p.payload) {
                    Ok(DispatchOutcome::LeaveRequested) => {
                        self.leave(to);
                        return;
                    }
                    Ok(_) => {}
                    Err(e) => self.error("process_inbound", e),
                }
            }
            Topic::Welcome => match p.payload.split_first() {
                Some((&TAG_KEY_PACKAGE, body)) => {
                    let Ok(invite) = MemberInvite::decode(body) else {
                        return;
                    };
                    let Member {
                        provider,
                        signer,
                        conv,
                        ..
                    } = &mut self.members[to];
                    let Some(conv) = conv.as_mut() else { return };
                    if let Err(e) = conv.sponsor_member(provider, signer, &invite.key_package_bytes)
                    {
                        self.error("sponsor_member", e);
                    }
                }
                Some((&TAG_WELCOME, body)) => {
                    if self.members[to].conv.is_some() {
                        return;
                    }
                    let Ok(welcome) = MemberWelcome::decode(body) else {
                        return;
                    };
                    let m = &self.members[to];
                    let joined = Conversation::join(
                        &m.provider,
                        &m.signer,
                        &welcome.welcome_bytes,
                        &welcome.conversation_sync_bytes,
                        &m.consensus,
                        Self::scoring(),
                        self.clock.clone(),
                        &m.app_id,
                        ConversationConfig::default(),
                    );
                    match joined {
                        Ok(Some(conv)) => {
                            self.members[to].conv = Some(conv);
                            self.core.subscribe(to, Topic::Conversation);
                        }
                        Ok(None) => return,
                        Err(e) => {
                            self.error("join", e);
                            return;
                        }
                    }
                }
                _ => return,
            },
        }
        self.service(to);
    }

    fn tick(&mut self, node: usize) {
        self.service(node);
    }

    fn clock_moved(&mut self, now: u64) {
        if now > self.clock_ms {
            self.clock
                .advance(Duration::from_millis(now - self.clock_ms));
            self.clock_ms = now;
        }
        debug_assert_eq!(self.clock.now(), Duration::from_millis(self.clock_ms));
    }

    fn changed(&mut self, node: usize) -> bool {
        let epoch = self.members[node]
            .conv
            .as_ref()
            .map(|c| c.mls_group().epoch().as_u64());
        epoch != std::mem::replace(&mut self.seen_epoch[node], epoch)
    }

    fn view(&self, node: usize) -> Option<View> {
        let group = self.members[node].conv.as_ref()?.mls_group();
        let mut roster: Vec<Vec<u8>> = group.members().map(|m| m.signature_key).collect();
        roster.sort();
        Some(View {
            epoch: group.epoch().as_u64(),
            roster,
            authenticator: group.epoch_authenticator().as_slice().to_vec(),
        })
    }

    fn roster_id(&self, node: usize) -> Vec<u8> {
        self.members[node].signature_key.clone()
    }
}

/// `d` in whole milliseconds, rounded up (a deadline is never polled early).
fn ceil_ms(d: Duration) -> u64 {
    d.as_nanos().div_ceil(1_000_000) as u64
}
