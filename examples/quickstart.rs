//! Quickstart: five in-process members form a de-MLS group by votes, chat, vote one member out,
//! and print a readable trace of epochs, votes, commits and decrypted messages.
//!
//! ```text
//! cargo run --release --example quickstart
//! ```
//!
//! Every node is built from the same embedded TOML profile (memory transport, memory storage,
//! hashgraph consensus, single steward): no external service is involved.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use demls::api::{Change, Outcome};
use demls::{Event, MemberId, Node, NodeConfig};
use tokio::sync::mpsc;

/// The embedded default profile; each node gets its own name.
const PROFILE: &str = r#"
[node]
name = "NAME"

[transport]
backend = "memory"
network = "quickstart"

[storage]
backend = "memory"

[consensus]
backend = "hashgraph"

[steward]
backend = "single"
commit_delay_ms = 150

[group]
vote_timeout_ms = 5000
"#;

const GROUP: &[u8] = b"demo";
const NAMES: [&str; 5] = ["alice", "bob", "carol", "dave", "erin"];

/// What the run ended with, for the test that exercises this example.
#[derive(Debug)]
pub struct Summary {
    /// Final epoch at every remaining member.
    pub epochs: Vec<u64>,
    /// Whether all remaining members share roster and authenticator.
    pub converged: bool,
    /// Messages decrypted in total.
    pub delivered: usize,
    /// Whether the removed member saw its removal.
    pub removed_notified: bool,
}

/// Prints events from every node and lets the main task wait for conditions.
struct Trace {
    start: Instant,
    names: BTreeMap<MemberId, &'static str>,
    rx: mpsc::UnboundedReceiver<(&'static str, Event)>,
    log: Vec<(&'static str, Event)>,
}

impl Trace {
    fn who(&self, id: &MemberId) -> String {
        self.names
            .get(id)
            .map_or_else(|| id.short(), |n| (*n).to_owned())
    }

    fn describe(&self, change: &Change) -> String {
        match change {
            Change::Add { member } => format!("add {}", self.who(member)),
            Change::Remove { member } => format!("remove {}", self.who(member)),
            Change::Leave { member } => format!("{} leaves", self.who(member)),
            Change::StewardElection { stewards } => {
                let names: Vec<String> = stewards.iter().map(|m| self.who(m)).collect();
                format!("elect stewards [{}]", names.join(", "))
            }
            Change::StewardViolation { violation, member } => match member {
                Some(t) => format!("steward violation: remove {} ({violation:?})", self.who(t)),
                None => format!("steward violation: {violation:?}"),
            },
        }
    }

    fn print(&self, node: &str, event: &Event) {
        let line = match event {
            Event::GroupCreated { epoch, .. } => format!("created the group (epoch {epoch})"),
            Event::JoinRequested { .. } => "announced a KeyPackage, asking to join".into(),
            Event::JoinRequestReceived { member, .. } if node == "alice" => {
                format!("saw {}'s join request", self.who(member))
            }
            Event::DecisionOpened {
                decision,
                requested_by,
                change,
                ..
            } if self.who(requested_by) == node => {
                format!(
                    "asked the group to decide {}: {}",
                    decision.short(),
                    self.describe(change)
                )
            }
            Event::Voted {
                decision, approve, ..
            } => {
                format!(
                    "voted {} on {}",
                    if *approve { "YES" } else { "NO" },
                    decision.short()
                )
            }
            Event::DecisionMade {
                decision,
                change,
                outcome,
                approvals,
                rejections,
                eligible,
                ..
            } => {
                let verdict = match outcome {
                    Outcome::Approved => "APPROVED",
                    Outcome::Rejected => "REJECTED",
                    Outcome::NoDecision => "NO DECISION",
                };
                format!(
                    "{} ({}) {verdict}: {approvals} yes / {rejections} no of {eligible}",
                    decision.short(),
                    self.describe(change)
                )
            }
            Event::Committed {
                epoch, decisions, ..
            } => {
                format!("committed {} decision(s) -> epoch {epoch}", decisions.len())
            }
            Event::EpochAdvanced {
                epoch,
                committer,
                added,
                removed,
                members,
                authenticator,
                ..
            } => {
                let mut changes: Vec<String> =
                    added.iter().map(|m| format!("+{}", self.who(m))).collect();
                changes.extend(removed.iter().map(|m| format!("-{}", self.who(m))));
                format!(
                    "epoch {epoch}: {} by {} ({members} members, authenticator {})",
                    changes.join(" "),
                    self.who(committer),
                    authenticator
                        .iter()
                        .take(4)
                        .map(|b| format!("{b:02x}"))
                        .collect::<String>()
                )
            }
            Event::Joined { epoch, members, .. } => {
                format!("joined at epoch {epoch} ({members} members)")
            }
            Event::MessageReceived {
                sender,
                payload,
                epoch,
                ..
            } => {
                format!(
                    "<- {} [epoch {epoch}]: {:?}",
                    self.who(sender),
                    String::from_utf8_lossy(payload)
                )
            }
            Event::Removed {
                epoch, committer, ..
            } => {
                format!(
                    "was removed at epoch {epoch} (commit by {})",
                    self.who(committer)
                )
            }
            Event::Rejected { reason, detail, .. } => format!("REJECTED {reason}: {detail}"),
            Event::DeliveryFailed { detail } => format!("delivery failed: {detail}"),
            _ => return,
        };
        println!(
            "[{:>6.3}s] {node:<5}  {line}",
            self.start.elapsed().as_secs_f64()
        );
    }

    /// Consumes events (printing them) until `done` holds over the log, or times out.
    async fn until(
        &mut self,
        what: &str,
        done: impl Fn(&[(&'static str, Event)]) -> bool,
    ) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while !done(&self.log) {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some((node, event))) => {
                    self.print(node, &event);
                    self.log.push((node, event));
                }
                _ => return Err(format!("timed out waiting for: {what}")),
            }
        }
        Ok(())
    }
}

fn count(log: &[(&'static str, Event)], f: impl Fn(&str, &Event) -> bool) -> usize {
    log.iter().filter(|(n, e)| f(n, e)).count()
}

/// Each node's latest (epoch, member count), from its Joined / EpochAdvanced / GroupCreated events.
fn latest_epochs(log: &[(&'static str, Event)]) -> BTreeMap<&'static str, (u64, u32)> {
    let mut out = BTreeMap::new();
    for (node, event) in log {
        match event {
            Event::GroupCreated { epoch, .. } => {
                out.insert(*node, (*epoch, 1));
            }
            Event::Joined { epoch, members, .. } | Event::EpochAdvanced { epoch, members, .. } => {
                out.insert(*node, (*epoch, *members));
            }
            _ => {}
        }
    }
    out
}

/// Runs the whole scenario.
pub async fn run() -> Result<Summary, String> {
    demls_transport_memory::link();
    demls_storage_memory::link();
    demls_consensus_hashgraph::link();

    let (tx, rx) = mpsc::unbounded_channel();
    let mut nodes = Vec::new();
    let mut names = BTreeMap::new();
    for name in NAMES {
        let config =
            NodeConfig::from_toml_str(&PROFILE.replace("NAME", name)).map_err(|e| e.to_string())?;
        let node = Node::start(config).await.map_err(|e| e.to_string())?;
        names.insert(node.member_id(), name);
        let (events, tx) = (node.clone(), tx.clone());
        tokio::spawn(async move {
            while let Some(event) = events.next_event().await {
                if tx.send((name, event)).is_err() {
                    break;
                }
            }
        });
        nodes.push(node);
    }
    let mut trace = Trace {
        start: Instant::now(),
        names,
        rx,
        log: Vec::new(),
    };
    println!("== five members: {}", NAMES.join(", "));

    println!("== alice creates the group; bob asks to join and the group (alice alone) votes");
    nodes[0]
        .create_group(GROUP)
        .await
        .map_err(|e| e.to_string())?;
    nodes[1]
        .join_group(GROUP)
        .await
        .map_err(|e| e.to_string())?;
    trace
        .until("bob joined", |l| {
            count(l, |n, e| n == "bob" && matches!(e, Event::Joined { .. })) == 1
        })
        .await?;

    println!("== carol, dave and erin ask to join at once; alice and bob vote");
    for node in &nodes[2..] {
        node.join_group(GROUP).await.map_err(|e| e.to_string())?;
    }
    // A message is readable by the members of the epoch it is sent in, so wait until all five
    // share one epoch (the joiners joined it, alice and bob moved to it).
    trace
        .until("all five in one epoch", |l| {
            let epochs = latest_epochs(l);
            let first = epochs.values().next().copied();
            epochs.len() == 5 && epochs.values().all(|&e| Some(e) == first && e.1 == 5)
        })
        .await?;

    println!("== everyone says hello");
    for (i, node) in nodes.iter().enumerate() {
        node.send(GROUP, format!("hello from {}", NAMES[i]).as_bytes())
            .await
            .map_err(|e| e.to_string())?;
    }
    trace
        .until("20 messages decrypted", |l| {
            count(l, |_, e| matches!(e, Event::MessageReceived { .. })) == 20
        })
        .await?;

    println!("== carol proposes removing dave; the group votes and the steward commits");
    nodes[2]
        .propose_remove(GROUP, nodes[3].member_id().as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    trace
        .until("dave removed everywhere", |l| {
            count(l, |n, e| n == "dave" && matches!(e, Event::Removed { .. })) == 1
                && count(
                    l,
                    |_, e| matches!(e, Event::EpochAdvanced { removed, .. } if !removed.is_empty()),
                ) == 4
        })
        .await?;

    println!("== the remaining four chat on");
    for i in [0usize, 1, 2, 4] {
        nodes[i]
            .send(GROUP, format!("{} is still here", NAMES[i]).as_bytes())
            .await
            .map_err(|e| e.to_string())?;
    }
    trace
        .until("12 more messages decrypted", |l| {
            count(l, |_, e| matches!(e, Event::MessageReceived { .. })) == 32
        })
        .await?;

    let mut summaries = Vec::new();
    for i in [0usize, 1, 2, 4] {
        summaries.push(
            nodes[i]
                .group(GROUP)
                .await
                .map_err(|e| e.to_string())?
                .ok_or("not in group")?,
        );
    }
    let converged = summaries.windows(2).all(|w| {
        w[0].epoch == w[1].epoch
            && w[0].members == w[1].members
            && w[0].authenticator == w[1].authenticator
    });
    println!(
        "== done in {:.2}s: epoch {}, {} members, authenticators {}",
        trace.start.elapsed().as_secs_f64(),
        summaries[0].epoch,
        summaries[0].members.len(),
        if converged {
            "equal at every member"
        } else {
            "DIFFER"
        }
    );
    let removed_notified = count(&trace.log, |n, e| {
        n == "dave" && matches!(e, Event::Removed { .. })
    }) == 1;
    for node in &nodes {
        node.shutdown().await;
    }
    Ok(Summary {
        epochs: summaries.iter().map(|s| s.epoch).collect(),
        converged,
        delivered: count(&trace.log, |_, e| {
            matches!(e, Event::MessageReceived { .. })
        }),
        removed_notified,
    })
}

#[allow(dead_code)]
#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    match run().await {
        Ok(summary) if summary.converged => {}
        Ok(summary) => {
            eprintln!("members did not converge: {summary:?}");
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("quickstart failed: {e}");
            std::process::exit(1);
        }
    }
}
