//! Revocations in feed order from a cursor, each delivered once and none skipped: the pages of
//! the recorded feed, then what arrives live.
//!
//! Live messages can come twice (the bus and a read-back) and out of cursor order (two
//! instances publish at once, and Redis delivers in its own order). Writers append to the feed
//! in cursor order, so a message with cursor `c` proves every entry below `c` is recorded
//! already: a message that skips ahead makes the stream read the feed up to it first. What it
//! delivers is therefore in strictly increasing cursor order, and the cursor of the last one
//! delivered is one below which nothing in force was skipped: the place to resume from.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::broadcast;

use super::Revocation;
use crate::ports::RevocationStore;
use crate::{Clock, StoreError};

/// Revocations read from the feed at once.
const PAGE: u32 = 1_000;

/// Why [`RevocationStream::next_live`] has nothing more to give.
#[derive(Debug, thiserror::Error)]
pub enum StreamEnd {
    /// The stream fell behind the live messages and some were dropped: catch up from the
    /// cursor (or let the client resume from the last cursor it got).
    #[error("fell behind the live revocations")]
    Lagged,
    /// The live source is gone (the server is stopping).
    #[error("the live revocations ended")]
    Closed,
    /// Reading the feed to fill a gap failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The revocation feed after a cursor, then live revocations, in cursor order, without
/// repeats or gaps.
pub struct RevocationStream {
    feed: Arc<dyn RevocationStore>,
    clock: Arc<dyn Clock>,
    live: broadcast::Receiver<Revocation>,
    /// Every entry in force up to here has been delivered or is in `pending`.
    cursor: i64,
    /// Read from the feed to fill a gap, not delivered yet, in cursor order.
    pending: VecDeque<Revocation>,
}

impl RevocationStream {
    /// Follows `live`, and the feed after `cursor` at each [`catch_up`](Self::catch_up) and
    /// whenever a live message skips ahead. Subscribe `live` before choosing `cursor`, so that
    /// nothing recorded in between is lost.
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
            pending: VecDeque::new(),
        }
    }

    /// Hands `deliver` every revocation in force after the cursor, oldest first: those already
    /// read, then the feed to its end. The next catch-up reads only what was recorded since.
    pub async fn catch_up(
        &mut self,
        mut deliver: impl FnMut(Revocation),
    ) -> Result<(), StoreError> {
        self.read_feed().await?;
        self.pending.drain(..).for_each(&mut deliver);
        Ok(())
    }

    /// The next revocation after the last one delivered. Cancel-safe: a message taken off the
    /// live channel and dropped with a cancelled call is in the feed, which the next call or
    /// catch-up reads.
    pub async fn next_live(&mut self) -> Result<Revocation, StreamEnd> {
        loop {
            if let Some(revocation) = self.pending.pop_front() {
                return Ok(revocation);
            }
            match self.live.recv().await {
                Ok(revocation) if revocation.cursor <= self.cursor => {}
                Ok(revocation) if revocation.cursor == self.cursor + 1 => {
                    self.cursor = revocation.cursor;
                    return Ok(revocation);
                }
                // Entries between the cursor and this one are recorded: read them (this one
                // with them, unless it is no longer in force).
                Ok(_) => self.read_feed().await?,
                Err(broadcast::error::RecvError::Lagged(_)) => return Err(StreamEnd::Lagged),
                Err(broadcast::error::RecvError::Closed) => return Err(StreamEnd::Closed),
            }
        }
    }

    /// The cursor of the last revocation delivered or read: nothing in force below it is
    /// missing.
    pub fn cursor(&self) -> i64 {
        self.cursor
    }

    /// Appends the feed after the cursor to `pending`, page by page, moving the cursor with
    /// each page (so a cancelled read loses nothing).
    async fn read_feed(&mut self) -> Result<(), StoreError> {
        loop {
            let page = self
                .feed
                .revocations_after(self.cursor, self.clock.unix(), PAGE)
                .await?;
            let full = page.len() >= PAGE as usize;
            for revocation in page {
                self.cursor = self.cursor.max(revocation.cursor);
                self.pending.push_back(revocation);
            }
            if !full {
                return Ok(());
            }
        }
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

        async fn latest_cursor(&self) -> Result<i64, StoreError> {
            unreachable!("the stream is given its cursor")
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

    async fn next(stream: &mut RevocationStream) -> i64 {
        stream.next_live().await.unwrap().cursor
    }

    #[tokio::test]
    async fn a_revocation_read_from_the_feed_is_not_delivered_again_live() {
        let feed = Arc::new(MemoryFeed::default());
        let (live, mut stream) = stream(&feed, 0);
        feed.record(revocation(1));
        live.send(revocation(1)).unwrap();
        live.send(revocation(2)).unwrap();

        assert_eq!(caught_up(&mut stream).await, [1]);

        assert_eq!(next(&mut stream).await, 2);
    }

    #[tokio::test]
    async fn a_live_revocation_is_delivered_once_and_not_again_by_a_catch_up() {
        let feed = Arc::new(MemoryFeed::default());
        let (live, mut stream) = stream(&feed, 0);
        for cursor in [1, 1, 2] {
            live.send(revocation(cursor)).unwrap();
        }
        drop(live);

        assert_eq!(next(&mut stream).await, 1);
        assert_eq!(next(&mut stream).await, 2);
        assert!(matches!(stream.next_live().await, Err(StreamEnd::Closed)));

        feed.record(revocation(1));
        feed.record(revocation(2));
        assert_eq!(caught_up(&mut stream).await, Vec::<i64>::new());
    }

    #[tokio::test]
    async fn live_revocations_out_of_order_come_out_in_cursor_order_with_none_missing() {
        // Arrange: 1 to 4 are recorded; the bus brings 3 first, then 1, 4 and 2.
        let feed = Arc::new(MemoryFeed::default());
        for cursor in 1..=4 {
            feed.record(revocation(cursor));
        }
        let (live, mut stream) = stream(&feed, 0);
        for cursor in [3, 1, 4, 2] {
            live.send(revocation(cursor)).unwrap();
        }
        drop(live);

        // Act
        let mut delivered = Vec::new();
        while let Ok(revocation) = stream.next_live().await {
            delivered.push(revocation.cursor);
        }

        // Assert
        assert_eq!(delivered, [1, 2, 3, 4]);
        assert_eq!(stream.cursor(), 4);
        assert_eq!(feed.reads(), 1, "one read filled the gap");
    }

    #[tokio::test]
    async fn a_live_revocation_no_longer_in_force_leaves_no_hole_in_the_order() {
        // Arrange: 2 has expired, so the feed no longer gives it.
        let feed = Arc::new(MemoryFeed::default());
        feed.record(revocation(1));
        feed.record(Revocation {
            until: 0,
            ..revocation(2)
        });
        feed.record(revocation(3));
        let (live, mut stream) = stream(&feed, 0);
        live.send(revocation(3)).unwrap();

        // Act and assert
        assert_eq!(next(&mut stream).await, 1);
        assert_eq!(next(&mut stream).await, 3);
    }

    #[tokio::test]
    async fn a_stream_that_fell_behind_says_so() {
        let feed = Arc::new(MemoryFeed::default());
        let (live, receiver) = broadcast::channel(2);
        let clock = Arc::new(ManualClock::starting_now());
        let mut stream = RevocationStream::new(feed, clock, receiver, 0);
        for cursor in 1..=4 {
            live.send(revocation(cursor)).unwrap();
        }

        assert!(matches!(stream.next_live().await, Err(StreamEnd::Lagged)));
        assert_eq!(stream.cursor(), 0, "the place to resume from");
    }
}
