//! The Connections port in-process: the local gateway registers each WebSocket it accepts and
//! forwards what arrives on the channel to the socket.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use haven_kernel::ports::{ConnectionError, Connections};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// Open connections by id, shared by clones.
#[derive(Clone, Default)]
pub struct LocalSockets {
    senders: Arc<Mutex<HashMap<String, UnboundedSender<Vec<u8>>>>>,
}

impl LocalSockets {
    /// Registers a connection (replacing any earlier one with the same id); the gateway
    /// forwards what arrives on the receiver to the socket.
    pub fn register(&self, connection_id: &str) -> UnboundedReceiver<Vec<u8>> {
        let (sender, receiver) = unbounded_channel();
        self.senders().insert(connection_id.to_owned(), sender);
        receiver
    }

    pub fn unregister(&self, connection_id: &str) {
        self.senders().remove(connection_id);
    }

    /// The map stays consistent whatever panicked while it was held: each operation is one
    /// insert or remove.
    fn senders(&self) -> MutexGuard<'_, HashMap<String, UnboundedSender<Vec<u8>>>> {
        self.senders
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn post_now(&self, connection_id: &str, payload: &[u8]) -> Result<(), ConnectionError> {
        let mut senders = self.senders();
        let sender = senders.get(connection_id).ok_or(ConnectionError::Gone)?;
        if sender.send(payload.to_vec()).is_err() {
            // The gateway dropped the receiver: the socket has closed.
            senders.remove(connection_id);
            return Err(ConnectionError::Gone);
        }
        Ok(())
    }
}

impl Connections for LocalSockets {
    fn post(
        &self,
        connection_id: &str,
        payload: &[u8],
    ) -> impl Future<Output = Result<(), ConnectionError>> + Send {
        std::future::ready(self.post_now(connection_id, payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn posts_reach_the_registered_receiver_and_gone_is_forgotten() {
        let sockets = LocalSockets::default();
        let mut rx = sockets.register("c1");
        sockets.post("c1", b"hello").await.expect("post");
        assert_eq!(rx.recv().await.as_deref(), Some(&b"hello"[..]));
        assert_eq!(sockets.post("nope", b"x").await, Err(ConnectionError::Gone));
        drop(rx);
        assert_eq!(sockets.post("c1", b"x").await, Err(ConnectionError::Gone));
        assert!(sockets.senders().is_empty());
        let _rx = sockets.register("c2");
        sockets.unregister("c2");
        assert_eq!(
            sockets.clone().post("c2", b"x").await,
            Err(ConnectionError::Gone)
        );
    }
}
