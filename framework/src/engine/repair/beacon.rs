//! Status beacons: each `status_interval_ms` a member announces its epoch and the ids of its
//! latest messages with probability `status_fanout / members` (and always right after a
//! restart), so that members learn what they are missing and that they are behind.

use super::{Abort, Group, RepairState, STATUS_RECENT, Step, backoff};
use crate::engine::publish;
use crate::types::Epoch;
use crate::wire::{Frame, Status, frame};

impl RepairState {
    /// Makes the next tick announce this member's epoch (after a restart, when others may have
    /// moved on while it was down).
    pub(crate) fn announce_soon(&mut self) {
        self.announce = true;
        self.next_status = None;
    }
}

/// Sends this member's status beacon for `epoch` when one is due.
pub(super) fn send_if_due(
    group: &mut Group,
    step: &mut Step<'_>,
    epoch: Epoch,
) -> Result<(), Abort> {
    let now = step.now;
    let params = step.params;
    if group.repair.next_status.is_some_and(|t| t > now) {
        return Ok(());
    }
    group.repair.next_status = Some(now.plus_ms(params.status_interval_ms));
    let members = group.roster().len().max(1) as u64;
    let roll = backoff(step, members);
    let announce = std::mem::take(&mut group.repair.announce);
    if (announce || roll < u64::from(params.status_fanout)) && group.roster().len() > 1 {
        let recent = group
            .repair
            .recent
            .iter()
            .rev()
            .take(STATUS_RECENT)
            .cloned()
            .collect();
        publish::publish_control(
            group,
            step,
            &Frame {
                body: Some(frame::Body::Status(Status { epoch, recent })),
            },
        )?;
    }
    Ok(())
}
