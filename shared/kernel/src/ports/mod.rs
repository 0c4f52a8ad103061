//! The ports: traits through which the domain reaches storage, queues, topics, keys and
//! sockets. Each has an AWS adapter and an embedded adapter that pass one contract suite.

pub mod blobs;
pub mod cached_keyring;
pub mod connections;
pub mod keyring;
pub mod publisher;
pub mod queue;
pub mod routing;
pub mod table;
pub mod webhooks;

pub use blobs::{
    BlobError, BlobStore, HEAD_BYTES, SignedRequest, StoredBlob, UploadTerms, is_valid_key,
};
pub use cached_keyring::{CachingKeyRing, KeyRingCalls};
pub use connections::{ConnectionError, Connections};
pub use keyring::{DataKey, EncryptionContext, KeyRing, KeyRingError, PlaintextKey};
pub use publisher::{PublishError, Publisher};
pub use queue::{OutgoingMessage, Queue, QueueDepth, QueueError, ReceiveOptions, ReceivedMessage};
pub use routing::{Basis, Route, RouteRequest, Routing, RoutingError};
pub use table::{
    Comparison, Condition, Cursor, Index, Page, Query, SortKey, Table, TableError, TransactOp,
    Update,
};
pub use webhooks::{WebhookError, WebhookResponse, Webhooks};

use crate::clock::Clock;
use crate::ids::IdGenerator;

/// Everything a handler may reach, bundled so handlers stay generic over one parameter:
/// `async fn handler<P: Ports>(ports: &P, req)`. Built once per process in `main`.
pub trait Ports: Send + Sync + 'static {
    type Table: Table;
    type Queue: Queue;
    type Publisher: Publisher;
    type KeyRing: KeyRing;
    type Connections: Connections;
    type Webhooks: Webhooks;
    type Routing: Routing;
    type Blobs: BlobStore;

    fn table(&self) -> &Self::Table;
    fn queue(&self) -> &Self::Queue;
    fn publisher(&self) -> &Self::Publisher;
    fn key_ring(&self) -> &Self::KeyRing;
    fn connections(&self) -> &Self::Connections;
    fn webhooks(&self) -> &Self::Webhooks;
    /// Road distance and time (the estimator, or a routing engine).
    fn routing(&self) -> &Self::Routing;
    /// Files clients upload and download through signed URLs (patients' documents).
    fn blobs(&self) -> &Self::Blobs;
    /// How the notification pipeline behaves (deadlines, retries, links).
    fn comms(&self) -> &crate::settings::CommsSettings;
    fn clock(&self) -> &dyn Clock;
    fn ids(&self) -> &dyn IdGenerator;
    /// What this process keeps between requests (identity's signing keys, the hospital
    /// directory); one per process, built in `main` with the ports.
    fn cache(&self) -> &crate::cache::ProcessCache;
    /// Which backend this is (`embedded` or `aws`), for health reports.
    fn backend_name(&self) -> &'static str;
}
