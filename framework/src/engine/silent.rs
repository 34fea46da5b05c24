//! Inputs that are neither processed nor refused, and why (§9 of the spec).
//!
//! Every input from the network ends in exactly one of four ways: it is processed (its effects
//! and events are the step's output), it is held for later (a later epoch, a join in progress),
//! it is refused (exactly one [`GroupEvent::Rejected`](super::event::GroupEvent::Rejected)), or it is passed over
//! *silently* for one of the reasons below — none of them is a fault of the sender, and an event
//! for each would flood the application with the ordinary redundancy of a gossip network. Each
//! silent input is listed in [`Output::silent`](super::output::Output::silent) once, so a driver can count
//! them.

use std::fmt;

/// Why an input was passed over without an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Silent {
    /// An exact copy of an envelope already processed here, or a chat message whose id was
    /// already delivered (a re-publication for someone else's repair, a transport duplicate).
    Duplicate,
    /// This member's own message coming back from the network.
    OwnEcho,
    /// A commit this member already applied, sent again for a member catching up.
    AlreadyApplied,
    /// Traffic of a branch that lost (or won against) this member's after a fork that was
    /// authenticated and reported (`ForkResolved`): it can never be processed here.
    OtherBranch,
    /// From an epoch before this member joined the group (re-published history for others).
    BeforeJoined,
    /// Meant for other members: a Welcome or ratchet tree for another joiner, a catch-up
    /// request, certificate part or beyond-history statement of an epoch other than this
    /// member's, traffic of the group a joiner does not need yet.
    NotForThisMember,
    /// Held for a later epoch or for a join in progress: processed (or refused, or dropped as
    /// `Unconfirmed`) when that epoch or the Welcome arrives. Also a message of a member
    /// removed since its epoch, until a current member vouches for it (or nobody does:
    /// refused as `NotAMember`).
    Held,
}

impl fmt::Display for Silent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}
