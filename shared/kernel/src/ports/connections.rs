//! The Connections port: push a message to a WebSocket client (API Gateway's
//! `@connections`, or the local gateway's sockets).

use std::future::Future;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConnectionError {
    /// The client has gone: forget the connection.
    #[error("the connection is gone")]
    Gone,
    /// Anything else (throttling, network): the connection may still be alive.
    #[error("posting to the connection failed: {0}")]
    Failed(String),
}

pub trait Connections: Send + Sync {
    fn post(
        &self,
        connection_id: &str,
        payload: &[u8],
    ) -> impl Future<Output = Result<(), ConnectionError>> + Send;
}
