//! The plan's steps applied to a run: network actions through the switch's model, crashes and
//! restarts of processes, membership commands through stdin, workload messages (sender,
//! expected receivers, payload), each recorded as a [`Mark`] or a [`Sent`]. This module owns
//! what one step does; when steps happen is `run.rs`'s.

use rand::Rng;

use super::LabError;
use super::driver::{Driver, GROUP};
use super::net::Model;
use super::run::Run;
use crate::observe::{Mark, MarkKind, Sent};
use crate::plan::{self, Step};
use crate::scenario::Action;

impl Run<'_> {
    fn with_model(&self, f: impl FnOnce(&mut Model)) {
        if let Some(s) = self.net.switch() {
            s.with_model(f);
        }
    }

    fn mark(&mut self, d: &Driver, kind: MarkKind) {
        self.marks.push(Mark {
            at_ms: d.now_ms(),
            kind,
        });
    }

    fn command(&mut self, d: &mut Driver, i: usize, line: &str) -> Result<(), LabError> {
        match d.call(i, line)? {
            Some(Ok(_)) | None => {}
            Some(Err(e)) => d.problem(format!("member {i} refused {line:?}: {e}")),
        }
        Ok(())
    }

    pub(super) fn step(&mut self, d: &mut Driver, step: Step) -> Result<(), LabError> {
        tracing::debug!(at_ms = d.now_ms(), ?step, "step");
        let n = d.members.len();
        let valid = |m: usize| -> Result<(), LabError> {
            if m < n {
                Ok(())
            } else {
                Err(LabError::Unsupported(format!(
                    "member {m} does not exist ({n} members)"
                )))
            }
        };
        match step {
            Step::Misbehave { member, .. } => {
                return Err(LabError::Unsupported(format!(
                    "misbehaviour of member {member}"
                )));
            }
            Step::Message { pick } => {
                let eligible: Vec<usize> = (0..n)
                    .filter(|&i| {
                        let m = &d.members[i];
                        m.proc.is_some() && m.in_group && !m.excluded
                    })
                    .collect();
                if let Some(sender) = plan::pick_sender(pick, &eligible) {
                    self.send(d, sender)?;
                }
            }
            Step::Action(action) => match action {
                Action::Partition { sets } => {
                    self.with_model(|m| m.partition(&sets));
                    self.mark(d, MarkKind::Partition { sets });
                }
                Action::Heal => {
                    self.with_model(|m| m.heal());
                    self.mark(d, MarkKind::Heal);
                }
                Action::Loss { loss } => {
                    self.with_model(|m| m.set_loss(loss));
                    self.mark(
                        d,
                        MarkKind::Network {
                            detail: format!("loss {loss}"),
                        },
                    );
                }
                Action::Latency {
                    latency_ms,
                    jitter_ms,
                } => {
                    self.with_model(|m| m.set_latency(latency_ms, jitter_ms));
                    self.mark(
                        d,
                        MarkKind::Network {
                            detail: format!("latency {latency_ms} ± {jitter_ms} ms"),
                        },
                    );
                }
                Action::Crash { member } => {
                    valid(member)?;
                    match d.members[member].proc.take() {
                        Some(mut p) => {
                            p.kill();
                            d.members[member].ready = false;
                        }
                        None => d.problem(format!("crash of member {member}: already down")),
                    }
                    self.mark(d, MarkKind::Crash { member });
                }
                Action::Restart { member } => {
                    valid(member)?;
                    if d.members[member].proc.is_some() {
                        d.problem(format!("restart of member {member}: it is up"));
                    } else {
                        d.members[member].generation += 1;
                        self.start_member(d, member)?;
                    }
                    self.mark(d, MarkKind::Restart { member });
                }
                Action::Join { member } => {
                    valid(member)?;
                    d.members[member].excluded = false;
                    self.command(d, member, &format!("join {GROUP}"))?;
                    self.mark(d, MarkKind::Join { member });
                }
                Action::Leave { member } => {
                    valid(member)?;
                    d.members[member].excluded = true;
                    self.command(d, member, &format!("leave {GROUP}"))?;
                    self.mark(d, MarkKind::Leave { member });
                }
                Action::Remove { member, by } => {
                    valid(member)?;
                    let by = match by {
                        Some(b) => b,
                        None => (0..n)
                            .find(|&i| {
                                i != member && d.members[i].proc.is_some() && d.members[i].in_group
                            })
                            .unwrap_or(0),
                    };
                    valid(by)?;
                    d.members[member].excluded = true;
                    match d.members[member].id.clone() {
                        Some(id) => self.command(d, by, &format!("remove {GROUP} {id}"))?,
                        None => d.problem(format!("remove of member {member}: its id is unknown")),
                    }
                    self.mark(d, MarkKind::Remove { member, by });
                }
                Action::Send { member } => {
                    valid(member)?;
                    self.send(d, member)?;
                }
            },
        }
        Ok(())
    }

    /// `sender` sends one message of `message_bytes` printable bytes; its roster then is who
    /// should receive it.
    fn send(&mut self, d: &mut Driver, sender: usize) -> Result<(), LabError> {
        let Some(info) = d.group_info(sender)? else {
            d.problem(format!(
                "member {sender} was to send but is not in the group"
            ));
            return Ok(());
        };
        let state = d.final_state(&info);
        const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        let payload: String = (0..self.scenario.workload.message_bytes.max(1))
            .map(|_| CHARS[self.rng.gen_range(0..CHARS.len())] as char)
            .collect();
        let at_ms = d.now_ms();
        match d.call(sender, &format!("send {GROUP} {payload}"))? {
            Some(Ok(result)) => match result.get("message_id").and_then(|v| v.as_str()) {
                Some(id) => self.sent.push(Sent {
                    at_ms,
                    member: sender,
                    message_id: id.to_owned(),
                    epoch: Some(state.epoch),
                    expected: state.roster,
                }),
                None => d.problem(format!(
                    "member {sender}: a send without message id: {result}"
                )),
            },
            Some(Err(e)) => d.problem(format!("member {sender} refused to send: {e}")),
            None => {}
        }
        Ok(())
    }
}
