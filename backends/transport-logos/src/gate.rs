//! The gate: a libp2p behaviour that refuses connections with peers under cluster backoff
//! (see [`cluster_backoff`](crate::cluster_backoff)) as early as the peer id is known.
//!
//! An inbound connection is refused right after the Noise handshake, when libp2p first learns
//! the remote's peer id and before any protocol (metadata, identify, gossipsub) runs. It is not
//! refused earlier, by address: peers behind one address (a NAT, loopback) would pay for
//! another's misconfiguration. A dial of ours to a peer under backoff is refused before it
//! starts. The gate must come first in the combined behaviour, so that no other behaviour
//! builds a handler for a connection it refuses. It owns no other state than the table: the
//! node's task records rejections in it and reads its counters.

use std::convert::Infallible;
use std::task::{Context, Poll};
use std::time::Instant;

use libp2p::core::Endpoint;
use libp2p::core::transport::PortUse;
use libp2p::swarm::{
    ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler, THandlerInEvent,
    THandlerOutEvent, ToSwarm, dummy,
};
use libp2p::{Multiaddr, PeerId};

use crate::cluster_backoff::{ClusterBackoff, Policy};
use crate::error::UnderBackoff;

/// Refuses connections with peers under cluster backoff.
#[derive(Debug)]
pub struct Gate {
    backoff: ClusterBackoff,
}

impl Gate {
    /// A gate with an empty table.
    pub(crate) fn new(policy: Policy) -> Gate {
        Gate {
            backoff: ClusterBackoff::new(policy),
        }
    }

    /// The backoff table.
    pub(crate) fn backoff(&self) -> &ClusterBackoff {
        &self.backoff
    }

    /// The backoff table, to record rejections.
    pub(crate) fn backoff_mut(&mut self) -> &mut ClusterBackoff {
        &mut self.backoff
    }

    /// Refuses (and counts) a connection with `peer` if it is under backoff.
    fn admit(&mut self, peer: PeerId, inbound: bool) -> Result<(), ConnectionDenied> {
        let now = Instant::now();
        let Some(until) = self.backoff.blocked_until(&peer, now) else {
            return Ok(());
        };
        self.backoff.refuse(&peer, now);
        let remaining = until - now;
        tracing::trace!(%peer, inbound, ?remaining, "connection refused: peer under cluster backoff");
        Err(ConnectionDenied::new(UnderBackoff { peer, remaining }))
    }
}

impl NetworkBehaviour for Gate {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = Infallible;

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.admit(peer, true)?;
        Ok(dummy::ConnectionHandler)
    }

    fn handle_pending_outbound_connection(
        &mut self,
        _: ConnectionId,
        maybe_peer: Option<PeerId>,
        _: &[Multiaddr],
        _: Endpoint,
    ) -> Result<Vec<Multiaddr>, ConnectionDenied> {
        if let Some(peer) = maybe_peer {
            self.admit(peer, false)?;
        }
        Ok(Vec::new())
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.admit(peer, false)?;
        Ok(dummy::ConnectionHandler)
    }

    fn on_swarm_event(&mut self, _: FromSwarm) {}

    fn on_connection_handler_event(
        &mut self,
        _: PeerId,
        _: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        match event {}
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        Poll::Pending
    }
}
