//! Builds the ports for this process, once, from its environment, and runs a handler as a
//! Lambda function on them. `HAVEN_BACKEND=embedded` (SQLite and a key file in
//! `HAVEN_DATA_DIR`; the default in builds with the `embedded` feature) or `HAVEN_BACKEND=aws`
//! (DynamoDB, SQS, SNS, KMS; `AWS_ENDPOINT_URL` points them anywhere, moto's server included;
//! the only backend, and the default, of the Lambda builds).

use std::sync::Arc;

use haven_alerts::comms::CommsSettings;
use haven_aws::AwsBackend;
use haven_kernel::ProcessCache;
use haven_kernel::ports::{CachingKeyRing, Ports};
use haven_kernel::{Clock, IdGenerator, RandomIds, SystemClock};
use haven_webhooks::HttpWebhooks;

#[cfg(feature = "embedded")]
mod embedded;
pub mod faults;
mod roads;

#[cfg(feature = "embedded")]
pub use embedded::{EmbeddedPorts, data_dir};
pub use roads::RoadRouting;

pub use haven_edge;
pub use lambda_http;
pub use lambda_runtime;
pub use tokio;
pub use tracing;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    Aws,
}

#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error("HAVEN_BACKEND must be `embedded` or `aws`, not `{0}`")]
    UnknownBackend(String),
    #[cfg(feature = "embedded")]
    #[error("cannot open the embedded backend in {dir}: {source}")]
    Embedded {
        dir: std::path::PathBuf,
        source: haven_embedded::EmbeddedError,
    },
    #[error("this build has no embedded backend (it is built for AWS): set HAVEN_BACKEND=aws")]
    NoEmbedded,
}

impl Backend {
    /// `HAVEN_BACKEND`; unset, the embedded backend where the build has one, else AWS (so a
    /// Lambda build can never write alerts to a throwaway SQLite file).
    pub fn from_env() -> Result<Self, PlatformError> {
        Self::named(std::env::var("HAVEN_BACKEND").ok().as_deref())
    }

    pub fn named(name: Option<&str>) -> Result<Self, PlatformError> {
        let embedded = cfg!(feature = "embedded");
        match name {
            None | Some("") if embedded => Ok(Backend::Embedded),
            None | Some("") => Ok(Backend::Aws),
            Some("embedded") if embedded => Ok(Backend::Embedded),
            Some("embedded") => Err(PlatformError::NoEmbedded),
            Some("aws") => Ok(Backend::Aws),
            Some(other) => Err(PlatformError::UnknownBackend(other.to_owned())),
        }
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
    cache: ProcessCache,
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
            cache: ProcessCache::default(),
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
    type Blobs = haven_aws::S3Blobs;

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

/// The embedded branch of a function's `main`, where the build has the backend.
#[cfg(feature = "embedded")]
#[doc(hidden)]
#[macro_export]
macro_rules! __embedded {
    ($($body:tt)*) => { $($body)* };
}

/// Without the backend, `Backend::from_env` never picks it; the branch still type-checks.
#[cfg(not(feature = "embedded"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __embedded {
    ($($body:tt)*) => {
        Err($crate::PlatformError::NoEmbedded.into())
    };
}

/// Builds the ports of the configured backend once, binds them (a reference) to `$ports`,
/// and evaluates `$body` with them: each backend gets its own monomorphic copy of the body.
#[doc(hidden)]
#[macro_export]
macro_rules! __with_ports {
    ($ports:ident => $body:expr) => {
        match $crate::Backend::from_env()? {
            $crate::Backend::Embedded => $crate::__embedded! {{
                let $ports = &$crate::EmbeddedPorts::from_env()?;
                $body
            }},
            $crate::Backend::Aws => {
                let $ports = &$crate::AwsPorts::from_env().await;
                $body
            }
        }
    };
}

/// `main` for an HTTP function: `haven_platform::http_function!(haven_ops::health_ready);`
/// builds the ports once, then serves every invocation with the handler.
#[macro_export]
macro_rules! http_function {
    ($handler:path) => {
        fn main() -> Result<(), $crate::lambda_http::Error> {
            $crate::haven_edge::logging::init();
            $crate::block_on(async {
                $crate::__with_ports!(ports => {
                    $crate::lambda_http::run($crate::lambda_http::service_fn(move |req| {
                        $crate::haven_edge::respond(
                            ports,
                            env!("CARGO_BIN_NAME"),
                            req,
                            move |caller, req| $handler(ports, caller, req),
                        )
                    }))
                    .await
                })
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
                $crate::__with_ports!(ports => {
                    $crate::lambda_runtime::run($crate::lambda_runtime::service_fn(
                        move |event| {
                            // Every line of the invocation names its function, as an HTTP
                            // request's do.
                            $crate::tracing::Instrument::instrument(
                                $handler(ports, event),
                                $crate::tracing::info_span!(
                                    "invocation",
                                    function = env!("CARGO_BIN_NAME")
                                ),
                            )
                        },
                    ))
                    .await
                })
            })
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backend_follows_haven_backend_and_the_build() {
        assert_eq!(Backend::named(Some("aws")).ok(), Some(Backend::Aws));
        assert!(matches!(
            Backend::named(Some("dynamo")),
            Err(PlatformError::UnknownBackend(_))
        ));
        if cfg!(feature = "embedded") {
            assert_eq!(Backend::named(None).ok(), Some(Backend::Embedded));
            assert_eq!(
                Backend::named(Some("embedded")).ok(),
                Some(Backend::Embedded)
            );
        } else {
            // A Lambda build never falls back to a local file.
            assert_eq!(Backend::named(None).ok(), Some(Backend::Aws));
            assert_eq!(Backend::named(Some("")).ok(), Some(Backend::Aws));
            assert!(matches!(
                Backend::named(Some("embedded")),
                Err(PlatformError::NoEmbedded)
            ));
        }
    }
}
