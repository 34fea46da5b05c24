//! The frames a parent process and `demls-sqlite-member` exchange over the child's stdin and
//! stdout: a little-endian `u32` length, then a postcard-encoded [`Command`] or [`Reply`].
//!
//! The kill test includes this file too (`#[path]`), so both sides share one definition.

use std::io::{self, Read, Write};

use demls::{GroupId, MemberId, Topic};
use serde::{Deserialize, Serialize};

/// Largest frame either side accepts (a Welcome of a small group is far below).
pub const MAX_FRAME: usize = 64 << 20;

/// What the parent asks the member to do. Every command carries the parent's clock where the
/// engine needs one; every command is answered by exactly one [`Reply`].
#[derive(Debug, Serialize, Deserialize)]
pub enum Command {
    /// Announce a join request for `group`.
    Join {
        /// The group.
        group: GroupId,
        /// Virtual time (ms).
        now: u64,
    },
    /// Hand a publication received on `topic` to the engine.
    Deliver {
        /// The topic.
        topic: Topic,
        /// The bytes.
        payload: Vec<u8>,
        /// Virtual time (ms).
        now: u64,
    },
    /// Run the engine's timers.
    Tick {
        /// Virtual time (ms).
        now: u64,
    },
    /// Send an application message.
    Send {
        /// The group.
        group: GroupId,
        /// The payload.
        payload: Vec<u8>,
        /// Virtual time (ms).
        now: u64,
    },
    /// Report the member's view of `group` and its message history.
    Query {
        /// The group.
        group: GroupId,
    },
}

/// The member's view of a group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct View {
    /// The epoch.
    pub epoch: u64,
    /// Members in leaf order.
    pub members: Vec<MemberId>,
    /// The epoch authenticator.
    pub authenticator: Vec<u8>,
}

/// The member's answer to one [`Command`] (or, first of all, to being started).
#[derive(Debug, Serialize, Deserialize)]
pub enum Reply {
    /// The engine is open on its database.
    Ready {
        /// The `begin` step marker found in the database (see `recording.rs`).
        begin: u64,
        /// The `end` step marker: equal to `begin` unless a batch was applied in part.
        end: u64,
        /// Topics to deliver to it.
        topics: Vec<Topic>,
        /// When it next needs a tick (ms).
        deadline: Option<u64>,
    },
    /// A step ran (and was committed to the database).
    Done {
        /// Publications to relay, in order.
        publish: Vec<(Topic, Vec<u8>)>,
        /// Topics to deliver to it from now on.
        topics: Vec<Topic>,
        /// When it next needs a tick (ms).
        deadline: Option<u64>,
        /// Ids of application messages delivered by this step.
        received: Vec<Vec<u8>>,
        /// The id of the message a `Send` sent.
        sent: Option<Vec<u8>>,
        /// Storage batches committed so far (over every run on this database).
        steps: u64,
    },
    /// The answer to a `Query`.
    State {
        /// The group as the member sees it, if it is in it.
        view: Option<View>,
        /// Ids of every message in its history of the group.
        history: Vec<Vec<u8>>,
    },
    /// The command failed (the engine refused it or storage failed).
    Failed {
        /// What went wrong.
        error: String,
    },
}

/// Writes one frame and flushes.
pub fn write_frame<T: Serialize>(out: &mut impl Write, value: &T) -> io::Result<()> {
    let bytes = postcard::to_allocvec(value).map_err(io::Error::other)?;
    let len = u32::try_from(bytes.len()).map_err(io::Error::other)?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(&bytes)?;
    out.flush()
}

/// Reads one frame; `Ok(None)` at a clean end of stream (the peer closed or died between
/// frames).
pub fn read_frame<T: for<'de> Deserialize<'de>>(input: &mut impl Read) -> io::Result<Option<T>> {
    let mut len = [0u8; 4];
    match input.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "frame too large",
        ));
    }
    let mut bytes = vec![0u8; len];
    input.read_exact(&mut bytes)?;
    postcard::from_bytes(&bytes)
        .map(Some)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}
