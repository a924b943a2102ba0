//! Keeps this instance's deny-set in step with every other instance: revocations arrive on the
//! bus (Redis pub/sub, or in-process) within milliseconds, and a read-back of the database
//! feed every second heals anything the bus missed (a dropped connection, a restart).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tessera_core::StoreError;
use tessera_core::session::{Revocation, Sessions};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

/// How often the database feed is read back.
const CATCH_UP_INTERVAL: Duration = Duration::from_secs(1);

/// Relayed cursors remembered, so a revocation seen on the bus and again in the read-back is
/// relayed to SSE subscribers once.
const REMEMBERED: usize = 100_000;

/// The task that applies revocations to the deny-set and relays them to SSE subscribers.
pub struct RevocationFollower {
    sessions: Arc<Sessions>,
    live: broadcast::Sender<Revocation>,
    bus: broadcast::Receiver<Revocation>,
    cursor: i64,
    relayed: BTreeSet<i64>,
}

impl RevocationFollower {
    /// Subscribes to the bus, then loads every revocation still in force, so that nothing
    /// published in between is lost.
    pub async fn start(
        sessions: Arc<Sessions>,
        live: broadcast::Sender<Revocation>,
    ) -> Result<Self, StoreError> {
        let bus = sessions.bus().subscribe();
        let mut follower = Self {
            sessions,
            live,
            bus,
            cursor: 0,
            relayed: BTreeSet::new(),
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
            tokio::select! {
                message = self.bus.recv() => match message {
                    Ok(revocation) => self.relay(revocation),
                    // Fell behind the bus: the next read-back fills the gap.
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = tick.tick() => {
                    if let Err(error) = self.catch_up().await {
                        tracing::warn!(%error, "reading the revocation feed failed; retrying");
                    }
                    self.sessions.purge_expired_revocations();
                }
            }
        }
    }

    async fn catch_up(&mut self) -> Result<(), StoreError> {
        loop {
            let page = self.sessions.revocations_after(self.cursor).await?;
            let full = page.len() >= 1_000;
            for revocation in page {
                self.cursor = self.cursor.max(revocation.cursor);
                self.relay(revocation);
            }
            if !full {
                return Ok(());
            }
        }
    }

    fn relay(&mut self, revocation: Revocation) {
        self.sessions.apply(&revocation);
        if self.relayed.insert(revocation.cursor) {
            let _ = self.live.send(revocation);
        }
        if self.relayed.len() > REMEMBERED {
            self.relayed = self
                .relayed
                .split_off(&(revocation.cursor - (REMEMBERED / 2) as i64));
        }
    }
}
