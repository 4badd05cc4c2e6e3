//! Requests that hang, for the adapter's deadline: never answered (the connection stays open
//! until the client gives up), or answered as usual but late.

use std::time::Duration;

use bytes::Bytes;
use http::Request;

use super::{FhirPeer, Peer, logged};

/// How a request the peer was told to hang on ([`FhirPeer::hang_next`]) behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hang {
    /// Never answered.
    Forever,
    /// Answered as usual, after this long.
    For(Duration),
}

/// One request still to hang on.
#[derive(Debug, Clone)]
pub(super) struct Planned {
    prefix: String,
    how: Hang,
}

impl FhirPeer {
    /// The next `count` requests whose path after the base starts with `prefix` (`Patient` for
    /// Patient searches and reads, `""` for any request), or whose method, a space and that
    /// path do (`PUT Appointment/a1` for writes of one appointment), hang as `how` says. A request that
    /// hangs for ever is logged in [`FhirPeer::requests`] when it arrives; a late one when it is
    /// answered (so not at all if the client gave up first).
    pub fn hang_next(&self, count: usize, prefix: &str, how: Hang) {
        let mut g = self.peer.lock();
        for _ in 0..count {
            g.hangs.push(Planned {
                prefix: prefix.to_owned(),
                how,
            });
        }
    }

    /// How many of the requests planned by [`FhirPeer::hang_next`] have not come yet.
    pub fn hangs_left(&self) -> usize {
        self.peer.lock().hangs.len()
    }
}

/// Takes the first planned hang `req` matches, if any.
pub(super) fn planned(peer: &Peer, req: &Request<Bytes>) -> Option<Hang> {
    let rest = req.uri().path().strip_prefix("/fhir/")?;
    let mut g = peer.lock();
    let with_method = format!("{} {rest}", req.method());
    let i = g
        .hangs
        .iter()
        .position(|h| rest.starts_with(&h.prefix) || with_method.starts_with(&h.prefix))?;
    let how = g.hangs.remove(i).how;
    if how == Hang::Forever {
        g.log.push(logged(req));
    }
    Some(how)
}
