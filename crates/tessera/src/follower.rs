//! Keeps this instance's deny-set in step with every other instance: revocations arrive on the
//! bus (Redis pub/sub, or in-process) within milliseconds, and a read-back of the database
//! feed every second heals anything the bus missed (a dropped connection, a restart).

use std::sync::Arc;
use std::time::Duration;

use tessera_core::ports::RevocationStore;
use tessera_core::session::{Revocation, RevocationStream, Sessions, StreamEnd};
use tessera_core::{Clock, StoreError};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

/// How often the database feed is read back.
const CATCH_UP_INTERVAL: Duration = Duration::from_secs(1);

/// The task that applies revocations to the deny-set and relays them to SSE subscribers, in
/// cursor order with none skipped (see [`RevocationStream`]).
pub struct RevocationFollower {
    sessions: Arc<Sessions>,
    live: broadcast::Sender<Revocation>,
    // A revocation seen on the bus and again in the read-back comes out of it once.
    revocations: RevocationStream,
}

impl RevocationFollower {
    /// Subscribes to the bus, then loads every revocation still in force from `feed`, so that
    /// nothing published in between is lost.
    pub async fn start(
        sessions: Arc<Sessions>,
        feed: Arc<dyn RevocationStore>,
        clock: Arc<dyn Clock>,
        live: broadcast::Sender<Revocation>,
    ) -> Result<Self, StoreError> {
        let revocations = RevocationStream::new(feed, clock, sessions.bus().subscribe(), 0);
        let mut follower = Self {
            sessions,
            live,
            revocations,
        };
        follower.catch_up().await?;
        Ok(follower)
    }

    /// Runs the follower until aborted.
    pub fn spawn(self) -> JoinHandle<()> {
        tokio::spawn(self.run())
    }

    async fn run(mut self) {
        let mut tick = tokio::time::interval(CATCH_UP_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let read = tokio::select! {
                next = self.revocations.next_live() => match next {
                    Ok(revocation) => {
                        relay(&self.sessions, &self.live, revocation);
                        Ok(())
                    }
                    // What it missed by falling behind the bus, the feed has.
                    Err(StreamEnd::Lagged) => self.catch_up().await,
                    Err(StreamEnd::Store(error)) => Err(error),
                    Err(StreamEnd::Closed) => return,
                },
                _ = tick.tick() => {
                    let read = self.catch_up().await;
                    self.sessions.purge_expired_revocations();
                    read
                }
            };
            if let Err(error) = read {
                tracing::warn!(%error, "reading the revocation feed failed; retrying");
            }
        }
    }

    async fn catch_up(&mut self) -> Result<(), StoreError> {
        let Self {
            sessions,
            live,
            revocations,
        } = self;
        revocations
            .catch_up(|revocation| relay(sessions, live, revocation))
            .await
    }
}

/// Applies `revocation` here and passes it on to SSE subscribers.
fn relay(sessions: &Sessions, live: &broadcast::Sender<Revocation>, revocation: Revocation) {
    sessions.apply(&revocation);
    let _ = live.send(revocation);
}
