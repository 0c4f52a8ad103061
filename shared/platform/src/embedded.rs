//! The ports on the embedded backend: SQLite and a key file in `HAVEN_DATA_DIR`. Only in
//! builds with the `embedded` feature (the local gateway, tests, `cargo lambda watch`); the
//! Lambda builds `make package` makes leave it out.

use std::path::PathBuf;
use std::sync::Arc;

use haven_alerts::comms::CommsSettings;
use haven_embedded::EmbeddedBackend;
use haven_kernel::ProcessCache;
use haven_kernel::ports::{CachingKeyRing, Ports};
use haven_kernel::{Clock, IdGenerator, RandomIds, SystemClock};
use haven_webhooks::HttpWebhooks;

use crate::{PlatformError, RoadRouting};

/// Where the embedded backend keeps its SQLite file and key file.
pub fn data_dir() -> PathBuf {
    std::env::var_os("HAVEN_DATA_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".haven"))
}

/// The ports on the embedded backend.
pub struct EmbeddedPorts {
    pub backend: EmbeddedBackend,
    /// The backend's key ring behind a short-lived cache of unwrapped data keys.
    pub key_ring: CachingKeyRing<haven_embedded::FileKeyRing>,
    pub webhooks: HttpWebhooks,
    /// The estimator, or a routing engine when `HAVEN_ROUTING_URL` names one.
    pub routing: RoadRouting,
    /// Deadlines, retries and links; tests shorten them before sharing the ports.
    pub comms: CommsSettings,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    cache: ProcessCache,
}

impl EmbeddedPorts {
    pub fn open(
        dir: PathBuf,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Result<Self, PlatformError> {
        let backend = EmbeddedBackend::open(&dir, clock.clone())
            .map_err(|source| PlatformError::Embedded { dir, source })?;
        let mut comms = CommsSettings::from_env();
        // One machine: receivers on loopback are the norm, unless switched off explicitly.
        comms.allow_private_webhooks =
            std::env::var("HAVEN_ALLOW_PRIVATE_WEBHOOKS").as_deref() != Ok("0");
        Ok(EmbeddedPorts {
            key_ring: CachingKeyRing::from_env(backend.key_ring.clone()),
            webhooks: HttpWebhooks::new(),
            routing: RoadRouting::from_env(),
            comms,
            backend,
            clock,
            ids,
            cache: ProcessCache::default(),
        })
    }
    pub fn from_env() -> Result<Self, PlatformError> {
        Self::in_dir(data_dir())
    }
    /// The embedded ports in `dir` with the system clock and random ids.
    pub fn in_dir(dir: PathBuf) -> Result<Self, PlatformError> {
        Self::open(dir, Arc::new(SystemClock), Arc::new(RandomIds))
    }
}

impl Ports for EmbeddedPorts {
    type Table = haven_embedded::SqliteTable;
    type Queue = haven_embedded::SqliteQueue;
    type Publisher = haven_embedded::SqlitePublisher;
    type KeyRing = CachingKeyRing<haven_embedded::FileKeyRing>;
    type Connections = haven_embedded::LocalSockets;
    type Webhooks = HttpWebhooks;
    type Routing = RoadRouting;
    type Blobs = haven_embedded::FileBlobs;

    fn table(&self) -> &Self::Table {
        &self.backend.table
    }
    fn queue(&self) -> &Self::Queue {
        &self.backend.queue
    }
    fn publisher(&self) -> &Self::Publisher {
        &self.backend.publisher
    }
    fn key_ring(&self) -> &Self::KeyRing {
        &self.key_ring
    }
    fn connections(&self) -> &Self::Connections {
        &self.backend.connections
    }
    fn webhooks(&self) -> &Self::Webhooks {
        &self.webhooks
    }
    fn routing(&self) -> &Self::Routing {
        &self.routing
    }
    fn blobs(&self) -> &Self::Blobs {
        &self.backend.blobs
    }
    fn comms(&self) -> &CommsSettings {
        &self.comms
    }
    fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }
    fn ids(&self) -> &dyn IdGenerator {
        self.ids.as_ref()
    }
    fn cache(&self) -> &ProcessCache {
        &self.cache
    }
    fn backend_name(&self) -> &'static str {
        "embedded"
    }
}
