//! Convergence checks: do the listed nodes agree on a group's epoch, member list and epoch
//! authenticator? A [`Divergence`] names each node that differs and how, with the seed and
//! start time needed to replay the run.

use std::fmt;

use demls::{Epoch, GroupId, GroupSummary, MemberId, Timestamp};

use crate::node::NodeId;
use crate::sim::Sim;

/// What the listed nodes agree on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvergedState {
    /// The common epoch.
    pub epoch: Epoch,
    /// The common member list, in leaf order.
    pub members: Vec<MemberId>,
    /// The common epoch authenticator.
    pub authenticator: Vec<u8>,
}

/// How one node differs from the reference (the first listed node that has the group).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Difference {
    /// No nodes were listed.
    NoNodes,
    /// The node is crashed.
    Down(NodeId),
    /// The node is up but not a member of the group.
    NotInGroup(NodeId),
    /// Another epoch.
    Epoch {
        /// The node.
        node: NodeId,
        /// The reference's epoch.
        expected: Epoch,
        /// The node's.
        found: Epoch,
    },
    /// Same epoch, another member list.
    Members {
        /// The node.
        node: NodeId,
        /// Members the reference has and the node lacks.
        missing: Vec<MemberId>,
        /// Members the node has and the reference lacks.
        extra: Vec<MemberId>,
    },
    /// Same epoch and members, another authenticator: the node is on a fork.
    Authenticator(NodeId),
}

/// The listed nodes do not agree on a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// The group.
    pub group: GroupId,
    /// The node the others were compared with, if any listed node has the group.
    pub reference: Option<NodeId>,
    /// Every difference found.
    pub differences: Vec<Difference>,
    /// The run's seed.
    pub seed: u64,
    /// The run's start time.
    pub start: Timestamp,
    /// Virtual time of the check.
    pub at: Timestamp,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "group {} diverged at +{} ms (seed={} start={}",
            self.group.display(),
            self.at.since(self.start),
            self.seed,
            self.start.0
        )?;
        match self.reference {
            Some(r) => write!(f, ", compared with {r}):")?,
            None => write!(f, "):")?,
        }
        for d in &self.differences {
            match d {
                Difference::NoNodes => write!(f, " no nodes listed;")?,
                Difference::Down(n) => write!(f, " {n} is down;")?,
                Difference::NotInGroup(n) => write!(f, " {n} is not in the group;")?,
                Difference::Epoch {
                    node,
                    expected,
                    found,
                } => write!(f, " {node} at epoch {found}, not {expected};")?,
                Difference::Members {
                    node,
                    missing,
                    extra,
                } => write!(
                    f,
                    " {node} lacks [{}] and has extra [{}];",
                    shorts(missing),
                    shorts(extra)
                )?,
                Difference::Authenticator(n) => write!(f, " {n} has another authenticator;")?,
            }
        }
        Ok(())
    }
}

impl std::error::Error for Divergence {}

fn shorts(ids: &[MemberId]) -> String {
    ids.iter()
        .map(MemberId::short)
        .collect::<Vec<_>>()
        .join(" ")
}

impl Sim {
    /// Checks that every node of `nodes` is up, in `group`, and at the same epoch with the same
    /// member list and authenticator.
    pub fn check_converged(
        &self,
        group: &GroupId,
        nodes: &[NodeId],
    ) -> Result<ConvergedState, Divergence> {
        let mut differences = Vec::new();
        let mut reference: Option<(NodeId, GroupSummary)> = None;
        if nodes.is_empty() {
            differences.push(Difference::NoNodes);
        }
        for &node in nodes {
            if !self.is_up(node) {
                differences.push(Difference::Down(node));
                continue;
            }
            let Some(summary) = self.group(node, group) else {
                differences.push(Difference::NotInGroup(node));
                continue;
            };
            let Some((_, expected)) = &reference else {
                reference = Some((node, summary));
                continue;
            };
            if let Some(d) = compare(node, expected, &summary) {
                differences.push(d);
            }
        }
        match reference {
            Some((_, s)) if differences.is_empty() => Ok(ConvergedState {
                epoch: s.epoch,
                members: s.members,
                authenticator: s.authenticator,
            }),
            reference => Err(Divergence {
                group: group.clone(),
                reference: reference.map(|(n, _)| n),
                differences,
                seed: self.seed,
                start: self.start,
                at: self.now,
            }),
        }
    }

    /// Whether [`check_converged`](Sim::check_converged) holds and the member list is exactly
    /// the member ids of `nodes` (a convenient [`run_until`](Sim::run_until) predicate).
    pub fn converged_exactly(&self, group: &GroupId, nodes: &[NodeId]) -> bool {
        self.check_converged(group, nodes).is_ok_and(|s| {
            let mut have = s.members;
            have.sort();
            let mut want: Vec<MemberId> = nodes.iter().map(|&n| self.member_id(n)).collect();
            want.sort();
            have == want
        })
    }
}

fn compare(node: NodeId, expected: &GroupSummary, found: &GroupSummary) -> Option<Difference> {
    if found.epoch != expected.epoch {
        return Some(Difference::Epoch {
            node,
            expected: expected.epoch,
            found: found.epoch,
        });
    }
    if found.members != expected.members {
        let missing = expected
            .members
            .iter()
            .filter(|m| !found.members.contains(m))
            .copied()
            .collect();
        let extra = found
            .members
            .iter()
            .filter(|m| !expected.members.contains(m))
            .copied()
            .collect();
        return Some(Difference::Members {
            node,
            missing,
            extra,
        });
    }
    if found.authenticator != expected.authenticator {
        return Some(Difference::Authenticator(node));
    }
    None
}
