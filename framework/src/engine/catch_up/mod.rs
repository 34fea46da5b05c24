//! Catching up on missed epochs: when a member believes it is behind, when it asks, who
//! answers and with what. This module owns that evidence, the request and the answer; the
//! rest of loss repair (duplicates, missing messages, votes) is in [`super::repair`].
//!
//! The rules keep catch-up traffic bounded at any group size and delivery delay:
//!
//! - **Evidence.** Traffic of a later epoch held here is a sign of being behind, but on a
//!   network that reorders it is also what a member sees just before the commit that leads
//!   there arrives. So a member asks only once such traffic is older than its *patience*:
//!   `max(repair_delay_ms, 2 × the delivery spread it has seen)`, plus a spread of up to
//!   `repair_backoff_ms` that differs between members. The delivery spread is a decaying
//!   maximum (a quarter off per observation) of two things every member observes anyway: how
//!   long later-epoch traffic came before the commit that led there, and how long a proposal
//!   took from its first message here to its decision by votes. Status beacons of members in an
//!   earlier epoch are no evidence of anything: the beacon may simply have crossed the commit,
//!   so nobody answers them (a member that really is behind hears the later epoch and asks).
//! - **One request serves everyone.** Answers are broadcast, so a member that sees another
//!   member's request for its own epoch waits `repair_retry_ms` before asking itself.
//! - **Few answers per request.** The committer of the epoch answers at once; any other member
//!   holding the commit answers with probability `catch_up_fanout × 2^attempt / members`
//!   (`attempt` travels in the request), after a random backoff, unless someone answered (the
//!   first commit of the answer was seen again) within the last `repair_retry_ms / 2`. So a
//!   request draws about `1 + catch_up_fanout` answers whatever the size of the group, and an
//!   asker that heard nothing asks again with twice the chance of being answered.
//! - **Bounded answers.** One answer covers at most [`CATCH_UP_EPOCHS`] epochs and
//!   [`MAX_ANSWER_BYTES`] of application messages.
//!
//! The bound this gives, per epoch transition: no request at all when nothing was lost and
//! the patience covers the reordering the member has seen; when `m` members really missed the
//! commit, about one request per `repair_retry_ms` (more only if their requests cross) and
//!
//! [`state`] holds the evidence of being behind, [`window`] the claims of a later epoch that
//! hold commits back, [`request`] asks, [`answer`] answers.

mod answer;
mod request;
pub(super) mod state;
mod window;

pub(crate) use answer::answer;
pub(crate) use request::request_if_due;
pub(crate) use state::{AHEAD_BELIEF_MS, CATCH_UP_EPOCHS, MAX_ANSWER_BYTES, REJOIN_AFTER_ATTEMPTS};
pub(crate) use window::{claim_deadline, refute_if_due};
