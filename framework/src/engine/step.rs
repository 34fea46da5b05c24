//! One step: the context every protocol function works in (storage transaction, crypto,
//! identity, parameters, the time, the output being built) and how a step stops early
//! ([`Abort`]). Running steps on groups is [`super::run`].

use super::error::EngineError;
use super::event::{RejectReason, Violation};
use super::output::Output;
use super::params::EngineParams;
use crate::identity::Identity;
use crate::mls::{Crypto, Provider};
use crate::txn::Txn;
use crate::types::{MemberId, Timestamp, Topic};

/// Inbound messages to process again, each as its own step (held messages whose time came).
pub(crate) type Requeue = Vec<(Topic, Vec<u8>)>;

/// Why a step stops early.
pub(crate) enum Abort {
    /// The input is refused: roll the step back and report it.
    Reject(RejectReason, String),
    /// The input is refused and proves that `offender` misbehaved: rolled back like `Reject`,
    /// then the steward policy is told (in a step of its own, so the penalty is kept).
    Violation {
        /// Why the input is refused.
        reason: RejectReason,
        /// Detail for logs.
        detail: String,
        /// Who misbehaved.
        offender: MemberId,
        /// How.
        violation: Violation,
        /// The offending message.
        evidence: Vec<u8>,
    },
    /// The input is kept aside to be processed again later (it is neither refused nor taken
    /// yet): the step is rolled back like `Reject`, and reported as
    /// [`Silent::Held`](super::silent::Silent::Held).
    Hold,
    /// Something failed that is not the input's fault.
    Fatal(EngineError),
}

impl<E: Into<EngineError>> From<E> for Abort {
    fn from(e: E) -> Self {
        Abort::Fatal(e.into())
    }
}

pub(crate) fn reject<T>(reason: RejectReason, detail: impl Into<String>) -> Result<T, Abort> {
    Err(Abort::Reject(reason, detail.into()))
}

/// The context of one step.
pub(crate) struct Step<'a> {
    pub txn: &'a Txn<'a>,
    pub crypto: &'a Crypto,
    pub identity: &'a Identity,
    pub params: &'a EngineParams,
    pub now: Timestamp,
    pub out: Output,
    /// Inbound messages to process as separate steps after this one commits.
    pub requeue: Requeue,
}

impl<'a> Step<'a> {
    pub(crate) fn provider(&self) -> Provider<'a, 'a, 'a> {
        Provider::new(self.crypto, self.txn)
    }

    pub(crate) fn me(&self) -> MemberId {
        self.identity.member_id()
    }
}
