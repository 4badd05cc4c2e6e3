//! A sender's loop (the outbox worker's or the Record Service sender's `run`) started in the
//! background and shut down by the test, as the binary's drain does on SIGTERM.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use wiremock::MockServer;

/// The shutdown signal handed to a loop: it completes when the test calls [`Running::stop`].
pub type Shutdown = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A loop running in the background until [`Running::stop`].
pub struct Running {
    tx: oneshot::Sender<()>,
    handle: JoinHandle<()>,
}

impl Running {
    /// Spawns `run`, giving it the shutdown signal.
    pub fn start<F, Fut>(run: F) -> Self
    where
        F: FnOnce(Shutdown) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(run(Box::pin(async move {
            let _ = rx.await;
        })));
        Self { tx, handle }
    }

    /// Signals shutdown and waits (at most 30 s) for the loop to return; `after` says what the
    /// loop was doing, for the failure message.
    pub async fn stop(self, after: &str) {
        self.tx
            .send(())
            .expect("the loop is still waiting for shutdown");
        tokio::time::timeout(Duration::from_secs(30), self.handle)
            .await
            .unwrap_or_else(|_| panic!("run returns after {after}"))
            .expect("the loop does not panic");
    }
}

/// Waits until `server` has received a first request: a pass has claimed its batch and is
/// delivering it.
pub async fn first_request(server: &MockServer) {
    while server.received_requests().await.unwrap().is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
