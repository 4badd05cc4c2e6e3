//! The loop both background senders run (the outbox worker and the Record Service sender):
//! passes one after another until shutdown, a pass under way at shutdown finished first.

use std::future::Future;
use std::time::Duration;

/// Runs `pass` again and again until `shutdown` completes. After each pass, `pause` (given the
/// pass's result) says how long to wait before the next one (`None`: straight on). Shutdown
/// during a pass lets that pass finish, then returns; during a pause it returns at once.
pub(crate) async fn run_passes<T, F, Fut>(
    shutdown: impl Future<Output = ()>,
    mut pass: F,
    mut pause: impl FnMut(T) -> Option<Duration>,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    tokio::pin!(shutdown);
    let mut stopping = false;
    loop {
        let this_pass = pass();
        tokio::pin!(this_pass);
        let result = loop {
            tokio::select! {
                result = &mut this_pass => break result,
                _ = &mut shutdown, if !stopping => stopping = true,
            }
        };
        let wait = pause(result);
        if stopping {
            return;
        }
        if let Some(wait) = wait {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}
