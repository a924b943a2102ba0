//! The in-process revocation bus: for a single instance, where "every instance" is this one.
//! It carries nothing across processes; use the Redis bus for that.

use async_trait::async_trait;
use tessera_core::StateError;
use tessera_core::ports::RevocationBus;
use tessera_core::session::Revocation;
use tokio::sync::broadcast;

use crate::CHANNEL_CAPACITY;

/// Revocations broadcast to the subscribers of this process.
#[derive(Debug, Clone)]
pub struct MemoryBus {
    sender: broadcast::Sender<Revocation>,
}

impl MemoryBus {
    /// A bus with no subscribers yet.
    pub fn new() -> Self {
        let (sender, _) = broadcast::channel(CHANNEL_CAPACITY);
        Self { sender }
    }
}

impl Default for MemoryBus {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl RevocationBus for MemoryBus {
    async fn publish(&self, revocations: &[Revocation]) -> Result<(), StateError> {
        for revocation in revocations {
            // Sending fails only when nobody subscribes, and then nobody needs to hear it.
            let _ = self.sender.send(*revocation);
        }
        Ok(())
    }

    fn subscribe(&self) -> broadcast::Receiver<Revocation> {
        self.sender.subscribe()
    }

    async fn ping(&self) -> Result<(), StateError> {
        Ok(())
    }
}
