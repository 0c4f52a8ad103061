//! The two adapter sets behind one test-facing trait, plus how to create test queues and
//! topics on each (creation is deployment's job, not the ports').

use std::sync::Arc;
use std::time::Duration;

use haven_aws::{AwsBackend, AwsSettings, provision};
use haven_embedded::EmbeddedBackend;
use haven_kernel::ports::{BlobStore, KeyRing, Publisher, Queue, Table};
use haven_kernel::{Clock, SystemClock};

pub trait ContractBackend: Send + Sync {
    type Table: Table;
    type Queue: Queue;
    type Publisher: Publisher;
    type KeyRing: KeyRing;
    type Blobs: BlobStore;

    fn name(&self) -> &'static str;
    fn table(&self) -> &Self::Table;
    fn queue(&self) -> &Self::Queue;
    fn publisher(&self) -> &Self::Publisher;
    fn key_ring(&self) -> &Self::KeyRing;
    fn blobs(&self) -> &Self::Blobs;
    fn create_queue(
        &self,
        name: &str,
        visibility: Duration,
        dead_letter: Option<(&str, u32)>,
    ) -> impl std::future::Future<Output = ()> + Send;
    fn create_topic(&self, name: &str) -> impl std::future::Future<Output = ()> + Send;
    fn subscribe(
        &self,
        topic: &str,
        queue: &str,
        filter_policy: &str,
    ) -> impl std::future::Future<Output = ()> + Send;
}

/// A unique suffix so concurrent tests never share a table, queue or topic.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

pub struct Embedded {
    pub backend: EmbeddedBackend,
    _dir: tempfile::TempDir,
}

pub async fn embedded() -> Embedded {
    let dir = tempfile::tempdir().expect("temporary directory");
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let backend = EmbeddedBackend::open(dir.path(), clock).expect("embedded backend opens");
    Embedded { backend, _dir: dir }
}

impl ContractBackend for Embedded {
    type Table = haven_embedded::SqliteTable;
    type Queue = haven_embedded::SqliteQueue;
    type Publisher = haven_embedded::SqlitePublisher;
    type KeyRing = haven_embedded::FileKeyRing;
    type Blobs = haven_embedded::FileBlobs;

    fn name(&self) -> &'static str {
        "embedded"
    }
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
        &self.backend.key_ring
    }
    fn blobs(&self) -> &Self::Blobs {
        &self.backend.blobs
    }
    async fn create_queue(
        &self,
        name: &str,
        visibility: Duration,
        dead_letter: Option<(&str, u32)>,
    ) {
        self.backend
            .queue
            .declare(name, visibility, dead_letter)
            .expect("declare queue");
    }
    async fn create_topic(&self, name: &str) {
        self.backend
            .publisher
            .declare_topic(name)
            .expect("declare topic");
    }
    async fn subscribe(&self, topic: &str, queue: &str, filter_policy: &str) {
        self.backend
            .publisher
            .subscribe(topic, queue, filter_policy)
            .expect("subscribe");
    }
}

/// moto's server, started by `make test`, whose URL is in `HAVEN_TEST_AWS_ENDPOINT`.
pub fn aws_endpoint() -> String {
    std::env::var("HAVEN_TEST_AWS_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "HAVEN_TEST_AWS_ENDPOINT is not set: the AWS half of the suite needs moto's server. \
             Run `make test`, which starts it, or start `moto_server` and export its URL."
        )
    })
}

pub async fn aws_sdk_config() -> aws_config::SdkConfig {
    let endpoint = aws_endpoint();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test",
            "test",
            None,
            None,
            "haven-tests",
        ))
        .load()
        .await
}

pub struct Aws {
    pub backend: AwsBackend,
    pub sdk: aws_config::SdkConfig,
    pub settings: AwsSettings,
}

/// A fresh stack on moto for one test: its own table, key and name prefix.
pub async fn aws() -> Aws {
    let sdk = aws_sdk_config().await;
    let prefix = unique("t") + "-";
    let settings = AwsSettings {
        table_name: format!("{prefix}haven"),
        kms_key_id: format!("alias/{prefix}haven"),
        kms_also_opens: Vec::new(),
        resource_prefix: prefix.clone(),
        websocket_endpoint: Some(aws_endpoint()),
        documents_bucket: format!("{prefix}documents"),
    };
    provision::create_table(&aws_sdk_dynamodb::Client::new(&sdk), &settings.table_name)
        .await
        .expect("create table on moto");
    provision::create_key(&aws_sdk_kms::Client::new(&sdk), &settings.kms_key_id)
        .await
        .expect("create key on moto");
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let backend = AwsBackend::new(&sdk, settings.clone(), clock);
    backend
        .blobs
        .create_bucket()
        .await
        .expect("create bucket on moto");
    Aws {
        backend,
        sdk,
        settings,
    }
}

impl ContractBackend for Aws {
    type Table = haven_aws::DynamoTable;
    type Queue = haven_aws::SqsQueue;
    type Publisher = haven_aws::SnsPublisher;
    type KeyRing = haven_aws::KmsKeyRing;
    type Blobs = haven_aws::S3Blobs;

    fn name(&self) -> &'static str {
        "aws"
    }
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
        &self.backend.key_ring
    }
    fn blobs(&self) -> &Self::Blobs {
        &self.backend.blobs
    }
    async fn create_queue(
        &self,
        name: &str,
        visibility: Duration,
        dead_letter: Option<(&str, u32)>,
    ) {
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let prefix = &self.settings.resource_prefix;
        let dead_letter = dead_letter.map(|(q, n)| (format!("{prefix}{q}"), n));
        provision::create_queue(
            &sqs,
            &format!("{prefix}{name}"),
            visibility,
            dead_letter.as_ref().map(|(q, n)| (q.as_str(), *n)),
        )
        .await
        .expect("create queue on moto");
    }
    async fn create_topic(&self, name: &str) {
        let sns = aws_sdk_sns::Client::new(&self.sdk);
        provision::create_topic(&sns, &format!("{}{name}", self.settings.resource_prefix))
            .await
            .expect("create topic on moto");
    }
    async fn subscribe(&self, topic: &str, queue: &str, filter_policy: &str) {
        let sns = aws_sdk_sns::Client::new(&self.sdk);
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let prefix = &self.settings.resource_prefix;
        let topic_arn = provision::create_topic(&sns, &format!("{prefix}{topic}"))
            .await
            .expect("topic");
        let queue_url = sqs
            .get_queue_url()
            .queue_name(format!("{prefix}{queue}"))
            .send()
            .await
            .expect("queue url")
            .queue_url
            .expect("queue url present");
        provision::subscribe_queue(&sns, &sqs, &topic_arn, &queue_url, filter_policy)
            .await
            .expect("subscribe on moto");
    }
}
