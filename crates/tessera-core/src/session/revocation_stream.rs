//! Revocations in feed order from a cursor, each delivered once: the pages of the recorded feed,
//! then what arrives live. The same revocation can come both ways (and twice live, from the bus
//! and from a read-back), so the stream remembers the cursors it has delivered.

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::sync::broadcast;

use super::Revocation;
use crate::ports::RevocationStore;
use crate::{Clock, StoreError};

/// Revocations read from the feed at once.
const PAGE: u32 = 1_000;
/// Delivered cursors remembered; beyond that, the older half is forgotten.
const REMEMBERED: usize = 100_000;

/// The revocation feed after a cursor, then live revocations, without repeats.
pub struct RevocationStream {
    feed: Arc<dyn RevocationStore>,
    clock: Arc<dyn Clock>,
    live: broadcast::Receiver<Revocation>,
    cursor: i64,
    delivered: BTreeSet<i64>,
}

impl RevocationStream {
    /// Follows `live`, and the feed after `cursor` at each [`catch_up`](Self::catch_up).
    /// Subscribe `live` before the first catch-up, so that nothing recorded in between is lost.
    pub fn new(
        feed: Arc<dyn RevocationStore>,
        clock: Arc<dyn Clock>,
        live: broadcast::Receiver<Revocation>,
        cursor: i64,
    ) -> Self {
        Self {
            feed,
            clock,
            live,
            cursor,
            delivered: BTreeSet::new(),
        }
    }

    /// Reads the feed after the cursor to its end and hands `deliver` each revocation still in
    /// force that it has not delivered yet, oldest first. The cursor moves past every page read,
    /// so the next catch-up reads only what was recorded since.
    pub async fn catch_up(
        &mut self,
        mut deliver: impl FnMut(Revocation),
    ) -> Result<(), StoreError> {
        loop {
            let page = self
                .feed
                .revocations_after(self.cursor, self.clock.unix(), PAGE)
                .await?;
            let full = page.len() >= PAGE as usize;
            for revocation in page {
                self.cursor = self.cursor.max(revocation.cursor);
                if self.first_delivery(revocation.cursor) {
                    deliver(revocation);
                }
            }
            if !full {
                return Ok(());
            }
        }
    }

    /// The next live revocation not delivered yet; `None` once the sender is gone. Messages
    /// missed by falling behind are skipped: a caller that must see every revocation catches up
    /// now and then. Cancel-safe.
    pub async fn next_live(&mut self) -> Option<Revocation> {
        loop {
            match self.live.recv().await {
                Ok(revocation) if self.first_delivery(revocation.cursor) => {
                    return Some(revocation);
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// Records `cursor` as delivered; whether it was not before.
    fn first_delivery(&mut self, cursor: i64) -> bool {
        let first = self.delivered.insert(cursor);
        if self.delivered.len() > REMEMBERED
            && let Some(&newest) = self.delivered.last()
        {
            self.delivered = self
                .delivered
                .split_off(&(newest - (REMEMBERED / 2) as i64));
        }
        first
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use time::OffsetDateTime;

    use super::*;
    use crate::session::RevocationTarget;
    use crate::{ManualClock, SessionId, UserId};

    /// A feed in memory that counts its reads.
    #[derive(Default)]
    struct MemoryFeed {
        entries: Mutex<Vec<Revocation>>,
        reads: Mutex<usize>,
    }

    impl MemoryFeed {
        fn record(&self, revocation: Revocation) {
            self.entries.lock().unwrap().push(revocation);
        }

        fn reads(&self) -> usize {
            *self.reads.lock().unwrap()
        }
    }

    #[async_trait]
    impl RevocationStore for MemoryFeed {
        async fn record_user_revocation(
            &self,
            _user: UserId,
            _now: OffsetDateTime,
            _until: i64,
        ) -> Result<Revocation, StoreError> {
            unreachable!("the stream only reads")
        }

        async fn revocations_after(
            &self,
            cursor: i64,
            now: i64,
            limit: u32,
        ) -> Result<Vec<Revocation>, StoreError> {
            *self.reads.lock().unwrap() += 1;
            let entries = self.entries.lock().unwrap();
            Ok(entries
                .iter()
                .filter(|r| r.cursor > cursor && r.until > now)
                .take(limit as usize)
                .copied()
                .collect())
        }

        async fn prune_revocations(&self, _now: i64, _limit: u32) -> Result<u64, StoreError> {
            unreachable!("the stream only reads")
        }
    }

    fn revocation(cursor: i64) -> Revocation {
        Revocation {
            cursor,
            target: RevocationTarget::Session(SessionId::new()),
            revoked_at_ms: 0,
            until: i64::MAX,
        }
    }

    fn stream(
        feed: &Arc<MemoryFeed>,
        cursor: i64,
    ) -> (broadcast::Sender<Revocation>, RevocationStream) {
        let (live, receiver) = broadcast::channel(16);
        let clock = Arc::new(ManualClock::starting_now());
        let stream = RevocationStream::new(feed.clone(), clock, receiver, cursor);
        (live, stream)
    }

    async fn caught_up(stream: &mut RevocationStream) -> Vec<i64> {
        let mut cursors = Vec::new();
        stream
            .catch_up(|revocation| cursors.push(revocation.cursor))
            .await
            .unwrap();
        cursors
    }

    #[tokio::test]
    async fn catching_up_pages_through_the_feed_after_the_cursor() {
        let feed = Arc::new(MemoryFeed::default());
        for cursor in 1..=2_300 {
            feed.record(revocation(cursor));
        }
        let (_live, mut stream) = stream(&feed, 500);

        let cursors = caught_up(&mut stream).await;

        assert_eq!(cursors, (501..=2_300).collect::<Vec<_>>());
        assert_eq!(feed.reads(), 2, "a short page ends the catch-up");
    }

    #[tokio::test]
    async fn a_second_catch_up_reads_only_what_was_recorded_since() {
        let feed = Arc::new(MemoryFeed::default());
        feed.record(revocation(1));
        let (_live, mut stream) = stream(&feed, 0);
        assert_eq!(caught_up(&mut stream).await, [1]);

        feed.record(revocation(2));

        assert_eq!(caught_up(&mut stream).await, [2]);
    }

    #[tokio::test]
    async fn a_revocation_read_from_the_feed_is_not_delivered_again_live() {
        let feed = Arc::new(MemoryFeed::default());
        let (live, mut stream) = stream(&feed, 0);
        feed.record(revocation(1));
        live.send(revocation(1)).unwrap();
        live.send(revocation(2)).unwrap();

        assert_eq!(caught_up(&mut stream).await, [1]);

        assert_eq!(stream.next_live().await.map(|r| r.cursor), Some(2));
    }

    #[tokio::test]
    async fn a_live_revocation_is_delivered_once_and_not_again_by_a_catch_up() {
        let feed = Arc::new(MemoryFeed::default());
        let (live, mut stream) = stream(&feed, 0);
        live.send(revocation(3)).unwrap();
        live.send(revocation(3)).unwrap();
        live.send(revocation(1)).unwrap();
        drop(live);

        assert_eq!(stream.next_live().await.map(|r| r.cursor), Some(3));
        assert_eq!(stream.next_live().await.map(|r| r.cursor), Some(1));
        assert_eq!(stream.next_live().await, None);

        feed.record(revocation(1));
        feed.record(revocation(3));
        assert_eq!(caught_up(&mut stream).await, Vec::<i64>::new());
    }

    #[tokio::test]
    async fn a_stream_that_fell_behind_goes_on_with_what_is_still_queued() {
        let feed = Arc::new(MemoryFeed::default());
        let (live, receiver) = broadcast::channel(2);
        let clock = Arc::new(ManualClock::starting_now());
        let mut stream = RevocationStream::new(feed, clock, receiver, 0);
        for cursor in 1..=4 {
            live.send(revocation(cursor)).unwrap();
        }

        assert_eq!(stream.next_live().await.map(|r| r.cursor), Some(3));
    }

    #[test]
    fn the_oldest_half_of_the_delivered_cursors_is_forgotten_past_the_limit() {
        let (_live, receiver) = broadcast::channel(1);
        let clock = Arc::new(ManualClock::starting_now());
        let mut stream = RevocationStream::new(Arc::new(MemoryFeed::default()), clock, receiver, 0);
        for cursor in 1..=REMEMBERED as i64 + 1 {
            assert!(stream.first_delivery(cursor));
        }

        assert!(stream.delivered.len() <= REMEMBERED / 2 + 1);
        assert!(!stream.first_delivery(REMEMBERED as i64 + 1));
        assert!(stream.first_delivery(1));
    }
}
