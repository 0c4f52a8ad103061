//! Builds the ports for this process, once, from its environment, and runs a handler as a
//! Lambda function on them. `HAVEN_BACKEND=embedded` (the default: SQLite and a key file in
//! `HAVEN_DATA_DIR`) or `HAVEN_BACKEND=aws` (DynamoDB, SQS, SNS, KMS; `AWS_ENDPOINT_URL`
//! points them anywhere, moto's server included).

use std::path::PathBuf;
use std::sync::Arc;

use haven_aws::AwsBackend;
use haven_domain::comms::CommsSettings;
use haven_domain::identity::keys::KeyCache;
use haven_domain::ports::{CachingKeyRing, Ports};
use haven_domain::{Clock, IdGenerator, RandomIds, SystemClock};
use haven_embedded::EmbeddedBackend;
use haven_webhooks::HttpWebhooks;

pub mod faults;
mod roads;

pub use roads::RoadRouting;

pub use haven_edge;
pub use lambda_http;
pub use lambda_runtime;
pub use tokio;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    Aws,
}

#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error("HAVEN_BACKEND must be `embedded` or `aws`, not `{0}`")]
    UnknownBackend(String),
    #[error("cannot open the embedded backend in {dir}: {source}")]
    Embedded {
        dir: PathBuf,
        source: haven_embedded::EmbeddedError,
    },
}

impl Backend {
    pub fn from_env() -> Result<Self, PlatformError> {
        match std::env::var("HAVEN_BACKEND").as_deref() {
            Err(_) | Ok("") | Ok("embedded") => Ok(Backend::Embedded),
            Ok("aws") => Ok(Backend::Aws),
            Ok(other) => Err(PlatformError::UnknownBackend(other.to_owned())),
        }
    }
}

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
    keys: KeyCache,
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
            keys: KeyCache::default(),
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
    fn comms(&self) -> &CommsSettings {
        &self.comms
    }
    fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }
    fn ids(&self) -> &dyn IdGenerator {
        self.ids.as_ref()
    }
    fn key_cache(&self) -> &KeyCache {
        &self.keys
    }
    fn backend_name(&self) -> &'static str {
        "embedded"
    }
}

/// The ports on AWS (or any AWS-compatible endpoint).
pub struct AwsPorts {
    pub backend: AwsBackend,
    /// KMS behind a short-lived cache of unwrapped data keys.
    pub key_ring: CachingKeyRing<haven_aws::KmsKeyRing>,
    pub webhooks: HttpWebhooks,
    pub routing: RoadRouting,
    pub comms: CommsSettings,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    keys: KeyCache,
}

impl AwsPorts {
    pub fn new(backend: AwsBackend, clock: Arc<dyn Clock>, ids: Arc<dyn IdGenerator>) -> Self {
        AwsPorts {
            key_ring: CachingKeyRing::from_env(backend.key_ring.clone()),
            webhooks: HttpWebhooks::new(),
            routing: RoadRouting::from_env(),
            comms: CommsSettings::from_env(),
            backend,
            clock,
            ids,
            keys: KeyCache::default(),
        }
    }
    pub async fn from_env() -> Self {
        Self::from_settings(haven_aws::AwsSettings::from_env()).await
    }
    pub async fn from_settings(settings: haven_aws::AwsSettings) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let backend = AwsBackend::new(&sdk, settings, clock.clone());
        AwsPorts::new(backend, clock, Arc::new(RandomIds))
    }
}

impl Ports for AwsPorts {
    type Table = haven_aws::DynamoTable;
    type Queue = haven_aws::SqsQueue;
    type Publisher = haven_aws::SnsPublisher;
    type KeyRing = CachingKeyRing<haven_aws::KmsKeyRing>;
    type Connections = haven_aws::ApiGatewayConnections;
    type Webhooks = HttpWebhooks;
    type Routing = RoadRouting;

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
    fn comms(&self) -> &CommsSettings {
        &self.comms
    }
    fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }
    fn ids(&self) -> &dyn IdGenerator {
        self.ids.as_ref()
    }
    fn key_cache(&self) -> &KeyCache {
        &self.keys
    }
    fn backend_name(&self) -> &'static str {
        "aws"
    }
}

/// Runs an async `main` body on a multi-threaded runtime.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(f),
        Err(e) => panic!("cannot start the async runtime: {e}"),
    }
}

/// `main` for an HTTP function: `haven_platform::http_function!(haven_ops::health_ready);`
/// builds the ports once, then serves every invocation with the handler.
#[macro_export]
macro_rules! http_function {
    ($handler:path) => {
        fn main() -> Result<(), $crate::lambda_http::Error> {
            $crate::haven_edge::logging::init();
            $crate::block_on(async {
                match $crate::Backend::from_env()? {
                    $crate::Backend::Embedded => {
                        let ports = $crate::EmbeddedPorts::from_env()?;
                        let ports = &ports;
                        $crate::lambda_http::run($crate::lambda_http::service_fn(move |req| {
                            $crate::haven_edge::respond(
                                ports,
                                env!("CARGO_BIN_NAME"),
                                req,
                                move |caller, req| $handler(ports, caller, req),
                            )
                        }))
                        .await
                    }
                    $crate::Backend::Aws => {
                        let ports = $crate::AwsPorts::from_env().await;
                        let ports = &ports;
                        $crate::lambda_http::run($crate::lambda_http::service_fn(move |req| {
                            $crate::haven_edge::respond(
                                ports,
                                env!("CARGO_BIN_NAME"),
                                req,
                                move |caller, req| $handler(ports, caller, req),
                            )
                        }))
                        .await
                    }
                }
            })
        }
    };
}

/// `main` for a WebSocket route function, whose handler takes the API Gateway WebSocket
/// event and returns the proxy response.
#[macro_export]
macro_rules! socket_function {
    ($handler:path) => {
        $crate::event_function!($handler);
    };
}

/// `main` for a queue worker: the handler takes the SQS batch and returns the failed items
/// (`ReportBatchItemFailures`).
#[macro_export]
macro_rules! worker_function {
    ($handler:path) => {
        $crate::event_function!($handler);
    };
}

/// `main` for a function run on a schedule (an EventBridge event).
#[macro_export]
macro_rules! scheduled_function {
    ($handler:path) => {
        $crate::event_function!($handler);
    };
}

/// `main` for any non-HTTP function: builds the ports once, then hands every event to the
/// handler.
#[macro_export]
macro_rules! event_function {
    ($handler:path) => {
        fn main() -> Result<(), $crate::lambda_runtime::Error> {
            $crate::haven_edge::logging::init();
            $crate::block_on(async {
                match $crate::Backend::from_env()? {
                    $crate::Backend::Embedded => {
                        let ports = $crate::EmbeddedPorts::from_env()?;
                        let ports = &ports;
                        $crate::lambda_runtime::run($crate::lambda_runtime::service_fn(
                            move |event| $handler(ports, event),
                        ))
                        .await
                    }
                    $crate::Backend::Aws => {
                        let ports = $crate::AwsPorts::from_env().await;
                        let ports = &ports;
                        $crate::lambda_runtime::run($crate::lambda_runtime::service_fn(
                            move |event| $handler(ports, event),
                        ))
                        .await
                    }
                }
            })
        }
    };
}
