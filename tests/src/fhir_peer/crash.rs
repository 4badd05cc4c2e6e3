//! A PAS that goes down part-way through a piece of work ([`FhirPeer::fail_after_writes`]):
//! after a given number of further successful writes, every request fails with a status until
//! [`FhirPeer::recover`], as when the portal or the server stops between two writes of a move.

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};

use super::{FhirPeer, Peer, outcome};

/// The countdown and the outage.
#[derive(Debug, Default)]
pub(super) struct Crash {
    /// Successful writes left before the outage, and its status.
    after: Option<(usize, StatusCode)>,
    /// The status every request answers meanwhile.
    down: Option<StatusCode>,
}

/// The outage's answer, while it lasts.
pub(super) fn down(peer: &Peer) -> Option<Response<Bytes>> {
    let status = peer.lock().crash.down?;
    Some(outcome(status, "transient", "the PAS is down"))
}

/// Counts a successful write towards the outage.
pub(super) fn after(peer: &Peer, req: &Request<Bytes>, res: &Response<Bytes>) {
    if req.method() == Method::GET || !res.status().is_success() {
        return;
    }
    let mut g = peer.lock();
    if let Some((left, status)) = g.crash.after.as_mut() {
        *left = left.saturating_sub(1);
        if *left == 0 {
            g.crash.down = Some(*status);
            g.crash.after = None;
        }
    }
}

impl FhirPeer {
    /// After `writes` more successful writes, every request answers `status` (no retry helps)
    /// until [`FhirPeer::recover`].
    ///
    /// # Panics
    /// When `status` is not an HTTP status.
    pub fn fail_after_writes(&self, writes: usize, status: u16) {
        let status = StatusCode::from_u16(status).expect("an HTTP status");
        self.peer.lock().crash.after = Some((writes, status));
    }

    /// The outage of [`FhirPeer::fail_after_writes`] ends.
    pub fn recover(&self) {
        let mut g = self.peer.lock();
        g.crash = Crash::default();
    }
}
