//! A real local gateway on a loopback port, for end-to-end tests over HTTP and WebSocket.

use std::sync::Arc;

use haven_embedded::LocalSockets;
use haven_kernel::ports::Ports;
use haven_kernel::{RandomIds, SystemClock};
use haven_local::Gateway;
use haven_platform::{AwsPorts, EmbeddedPorts};

type Rotate = Box<dyn Fn() -> futures::future::BoxFuture<'static, String> + Send + Sync>;
type RawStore = Box<dyn Fn() -> futures::future::BoxFuture<'static, Vec<u8>> + Send + Sync>;
type Drain =
    Box<dyn Fn(&'static str) -> futures::future::BoxFuture<'static, Vec<String>> + Send + Sync>;

/// The system admin every test gateway starts with.
pub const ADMIN_EMAIL: &str = "admin@haven.test";
pub const ADMIN_PASSWORD: &str = "violet harbour compass 93 drum";

pub struct RunningGateway {
    pub base_url: String,
    pub ws_url: String,
    /// Rotates the JWT signing key, as `haven-admin rotate-signing-key` does.
    pub rotate_signing_key: Rotate,
    /// Takes every message waiting on a queue (by its logical name) and returns the bodies:
    /// what the notification pipeline would receive.
    pub drain_queue: Drain,
    /// Everything the backend has stored, as raw bytes: the SQLite files, or every DynamoDB
    /// item as the SDK returns it. For checking that no plaintext reached storage.
    pub raw_store: RawStore,
    /// Where the embedded backend keeps its files (another process may open them).
    pub data_dir: Option<std::path::PathBuf>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    workers: Vec<tokio::task::JoinHandle<()>>,
    _dir: Option<tempfile::TempDir>,
}

/// How a test gateway runs.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Run the queue workers and the outbox relay, as `make dev` does. Off by default, so
    /// tests can read the queues themselves.
    pub pipeline: bool,
    /// Deadlines, retries and links for the pipeline; the defaults when `None`.
    pub comms: Option<haven_alerts::comms::CommsSettings>,
}

impl Options {
    /// The pipeline on, with the given settings.
    pub fn pipeline(comms: haven_alerts::comms::CommsSettings) -> Self {
        Options {
            pipeline: true,
            comms: Some(comms),
        }
    }
}

impl RunningGateway {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}

impl Drop for RunningGateway {
    fn drop(&mut self) {
        for w in &self.workers {
            w.abort();
        }
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

struct Parts {
    sockets: LocalSockets,
    sms_outbox: Option<haven_embedded::SqlitePublisher>,
    blobs: Option<haven_embedded::FileBlobs>,
    listener: tokio::net::TcpListener,
    dir: Option<tempfile::TempDir>,
    raw_store: RawStore,
    pipeline: bool,
}

async fn start<P: Ports>(ports: Arc<P>, parts: Parts) -> RunningGateway {
    let Parts {
        sockets,
        sms_outbox,
        blobs,
        listener,
        dir,
        raw_store,
        pipeline,
    } = parts;
    let addr = listener.local_addr().expect("bound");
    haven_local::seed::load_demo(ports.table(), ports.clock().now())
        .await
        .expect("demo data");
    haven_identity_core::accounts::bootstrap_admin(ports.as_ref(), ADMIN_EMAIL, ADMIN_PASSWORD)
        .await
        .expect("admin");
    let for_rotation = ports.clone();
    let rotate_signing_key: Rotate = Box::new(move || {
        let ports = for_rotation.clone();
        Box::pin(async move {
            haven_identity_core::keys::rotate(ports.as_ref())
                .await
                .expect("rotate")
        })
    });
    let for_drain = ports.clone();
    let drain_queue: Drain = Box::new(move |queue| {
        let ports = for_drain.clone();
        Box::pin(async move {
            use haven_kernel::ports::{Queue, ReceiveOptions};
            let mut bodies = Vec::new();
            loop {
                let batch = ports
                    .queue()
                    .receive(queue, ReceiveOptions::default())
                    .await
                    .expect("receive");
                if batch.is_empty() {
                    return bodies;
                }
                for m in batch {
                    ports
                        .queue()
                        .delete(queue, &m.receipt_handle)
                        .await
                        .expect("delete");
                    bodies.push(m.body);
                }
            }
        })
    });
    let workers = if pipeline {
        haven_local::workers::spawn_all(
            &ports,
            haven_local::workers::Pipeline {
                pollers_per_queue: 2,
                schedule_every: std::time::Duration::from_millis(500),
            },
        )
    } else {
        vec![]
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let gateway = Gateway::new(ports, sockets, sms_outbox, blobs);
    tokio::spawn(async move {
        let _ = gateway
            .serve(listener, async move {
                let _ = rx.await;
            })
            .await;
    });
    RunningGateway {
        rotate_signing_key,
        drain_queue,
        raw_store,
        base_url: format!("http://{addr}"),
        ws_url: format!("ws://{addr}"),
        shutdown: Some(tx),
        workers,
        data_dir: dir.as_ref().map(|d| d.path().to_path_buf()),
        _dir: dir,
    }
}

/// A gateway on the embedded backend in a fresh temporary data directory, with demo data.
pub async fn embedded() -> RunningGateway {
    embedded_with(Options::default()).await
}

/// The settings a test asked for, with the listener's address in the links.
fn comms_for(options: &Options, addr: std::net::SocketAddr) -> haven_alerts::comms::CommsSettings {
    let mut comms = options.comms.clone().unwrap_or_default();
    comms.public_base_url = format!("http://{addr}");
    // Test receivers listen on loopback.
    comms.allow_private_webhooks = true;
    comms
}

pub async fn embedded_with(options: Options) -> RunningGateway {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut ports = EmbeddedPorts::in_dir(dir.path().to_path_buf()).expect("embedded ports");
    let sockets = ports.backend.connections.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    ports.comms = comms_for(&options, listener.local_addr().expect("bound"));
    let sms_outbox = Some(ports.backend.publisher.clone());
    ports
        .backend
        .blobs
        .set_base_url(&ports.comms.public_base_url);
    let blobs = Some(ports.backend.blobs.clone());
    let files = dir.path().to_path_buf();
    let raw_store: RawStore = Box::new(move || {
        let files = files.clone();
        Box::pin(async move {
            let mut bytes = Vec::new();
            for name in ["haven.sqlite3", "haven.sqlite3-wal", "haven.sqlite3-shm"] {
                if let Ok(b) = std::fs::read(files.join(name)) {
                    bytes.extend(b);
                }
            }
            // And every sealed blob file, with its path.
            let mut dirs = vec![files.join(haven_embedded::BLOBS_DIR)];
            while let Some(dir) = dirs.pop() {
                for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                    let path = entry.path();
                    bytes.extend(path.to_string_lossy().as_bytes());
                    if path.is_dir() {
                        dirs.push(path);
                    } else if let Ok(b) = std::fs::read(&path) {
                        bytes.extend(b);
                    }
                }
            }
            bytes
        })
    });
    let parts = Parts {
        sockets,
        sms_outbox,
        blobs,
        listener,
        dir: Some(dir),
        raw_store,
        pipeline: options.pipeline,
    };
    start(Arc::new(ports), parts).await
}

/// A gateway on the AWS adapters against moto, with a fresh stack of its own.
pub async fn aws() -> RunningGateway {
    aws_with(Options::default()).await
}

pub async fn aws_with(options: Options) -> RunningGateway {
    let sdk = crate::backends::aws_sdk_config().await;
    let prefix = crate::backends::unique("g") + "-";
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("bound");
    let settings = haven_aws::AwsSettings {
        table_name: format!("{prefix}haven"),
        kms_key_id: format!("alias/{prefix}haven"),
        kms_also_opens: Vec::new(),
        resource_prefix: prefix.clone(),
        // Sockets live in this gateway; the adapter posts to its `/@connections`.
        websocket_endpoint: Some(format!("http://{addr}")),
        documents_bucket: format!("{prefix}documents"),
    };
    haven_aws::provision::provision_all(&sdk, &settings)
        .await
        .expect("provision on moto");
    let table = settings.table_name.clone();
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let bucket = haven_aws::S3Blobs::new(&sdk, settings.documents_bucket.clone());
    let raw_store: RawStore = Box::new(move || {
        let (dynamo, table, bucket) = (dynamo.clone(), table.clone(), bucket.clone());
        Box::pin(async move {
            use haven_kernel::ports::BlobStore;
            // Every object of the documents bucket, key and bytes.
            let mut bytes = Vec::new();
            for key in bucket.keys().await.expect("list the bucket") {
                bytes.extend(key.as_bytes());
                bytes.extend(bucket.get(&key).await.expect("object").unwrap_or_default());
            }
            let mut start = None;
            loop {
                let page = dynamo
                    .scan()
                    .table_name(&table)
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .expect("scan");
                for item in page.items() {
                    bytes.extend(format!("{item:?}").into_bytes());
                }
                start = page.last_evaluated_key().cloned();
                if start.is_none() {
                    return bytes;
                }
            }
        })
    });
    let backend = haven_aws::AwsBackend::new(&sdk, settings, Arc::new(SystemClock));
    let mut ports = AwsPorts::new(backend, Arc::new(SystemClock), Arc::new(RandomIds));
    ports.comms = comms_for(&options, addr);
    let parts = Parts {
        sockets: LocalSockets::default(),
        sms_outbox: None,
        blobs: None,
        listener,
        dir: None,
        raw_store,
        pipeline: options.pipeline,
    };
    start(Arc::new(ports), parts).await
}
