//! A host's connection to the relay hub: publish frames, receive every forwarded frame.
//!
//! Owns the socket and its reader thread; what a received publication means (subscriptions,
//! events) is [`crate::delivery`]'s. Writes block at most 5 s.

use std::io;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use crate::frame::{self, FrameError, Publication};

const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// An open link to the hub.
pub struct RelayLink {
    stream: UnixStream,
}

impl RelayLink {
    /// Connects to the hub at `socket`. Every forwarded publication goes to `on_publication`
    /// on the link's reader thread; `on_closed` runs there once the link ends (closed by
    /// either side, or a malformed frame).
    pub fn connect(
        socket: &Path,
        on_publication: impl Fn(Publication) + Send + 'static,
        on_closed: impl FnOnce() + Send + 'static,
    ) -> io::Result<Self> {
        let stream = UnixStream::connect(socket)?;
        stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
        let mut reader = stream.try_clone()?;
        std::thread::Builder::new()
            .name("lp-relay-link".into())
            .spawn(move || {
                loop {
                    match frame::read_body(&mut reader).and_then(|b| Publication::decode(&b)) {
                        Ok(p) => on_publication(p),
                        Err(FrameError::Closed) => break,
                        Err(e) => {
                            tracing::warn!(error = %e, "relay link failed");
                            break;
                        }
                    }
                }
                on_closed();
            })?;
        Ok(Self { stream })
    }

    /// Publishes one message through the hub.
    pub fn publish(&mut self, publication: &Publication) -> Result<(), FrameError> {
        let frame = publication.encode()?;
        frame::write_frame(&mut self.stream, &frame)
    }

    /// Closes the link (its reader thread then ends).
    pub fn close(&self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}
