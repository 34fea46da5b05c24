//! The two workloads' shared rules and the worker side of the runner protocol.
//!
//! Each implementation runs in its own worker process (the reference and demls link two
//! OpenMLS stacks whose dependencies cannot be resolved into one build). The runner talks to a
//! worker over stdin/stdout, one command per line:
//!
//! - `grow <n> <rep>`: build a fresh group and grow it to `n` members (W1); print its record;
//! - `remove`: remove one member from the group just grown (W2); print its record.
//!
//! A worker answers each command with exactly one line: a JSON record, or `error: …`.
//! This file is also compiled into the reference driver (included by path).

use std::io::{BufRead, Write};

use crate::measure::Record;

/// Virtual time allowed for one join or one removal before the run is declared stuck.
pub const STEP_LIMIT_MS: u64 = 30 * 60 * 1_000;

/// Virtual time the grown group runs, unmeasured, before the removal starts: whatever the
/// last join set in motion (elections, echoes, acknowledgements) finishes outside W2.
pub const QUIET_BEFORE_REMOVE_MS: u64 = 120 * 1_000;

/// One implementation's members in one process.
pub trait Bench {
    /// W1: the first member creates the group; members are then added one at a time, each by
    /// a voted add, the next only once every member shares the epoch and roster.
    fn grow(&mut self, n: usize) -> Result<Record, String>;
    /// W2: one member proposes removing another, members vote, a steward commits; done when
    /// every remaining member has applied the removal.
    fn remove(&mut self) -> Result<Record, String>;
}

/// The removal's proposer and victim, by one rule on both sides: the proposer is the
/// earliest-joined member that is not a steward, the victim the latest-joined one that is not
/// a steward either (stewards are used only when the group has too few other members).
/// `members` is in join order.
pub fn pick_pair(
    members: &[usize],
    is_steward: impl Fn(usize) -> bool,
) -> Result<(usize, usize), String> {
    if members.len() < 2 {
        return Err("a removal needs at least two members".into());
    }
    let plain: Vec<usize> = members
        .iter()
        .copied()
        .filter(|&m| !is_steward(m))
        .collect();
    let victim = plain.last().copied().unwrap_or(members[members.len() - 1]);
    let proposer = plain
        .iter()
        .chain(members.iter())
        .copied()
        .find(|&m| m != victim)
        .ok_or("no proposer")?;
    Ok((proposer, victim))
}

/// Serves runner commands from stdin until it closes. `make(rep)` builds a fresh bench.
pub fn serve<B: Bench>(mut make: impl FnMut(u32) -> Result<B, String>) {
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout();
    let mut bench: Option<B> = None;
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let words: Vec<&str> = line.split_whitespace().collect();
        let answer = match words.as_slice() {
            ["grow", n, rep] => match (n.parse::<usize>(), rep.parse::<u32>()) {
                (Ok(n), Ok(rep)) => {
                    bench = None;
                    make(rep).and_then(|mut b| {
                        let r = b.grow(n);
                        bench = Some(b);
                        r
                    })
                }
                _ => Err(format!("bad command {line:?}")),
            },
            ["remove"] => match bench.as_mut() {
                Some(b) => b.remove(),
                None => Err("remove before grow".into()),
            },
            _ => Err(format!("unknown command {line:?}")),
        };
        let text = match answer {
            Ok(record) => record.to_json(),
            Err(e) => format!("error: {e}"),
        };
        if writeln!(stdout, "{text}")
            .and_then(|_| stdout.flush())
            .is_err()
        {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_removal_pair_avoids_stewards() {
        let members = [0, 1, 2, 3, 4];
        assert_eq!(pick_pair(&members, |m| m == 0), Ok((1, 4)));
        assert_eq!(pick_pair(&members, |m| m == 0 || m == 4), Ok((1, 3)));
        assert_eq!(pick_pair(&[0, 1], |m| m == 0), Ok((0, 1)));
        assert_eq!(pick_pair(&[0, 1], |_| true), Ok((0, 1)));
        assert!(pick_pair(&[0], |_| false).is_err());
    }
}
