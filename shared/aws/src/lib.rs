//! `haven-aws`: the domain's ports on AWS — DynamoDB, SQS, SNS, KMS and API Gateway's
//! `@connections` — plus [`provision`], which creates the same resources as `template.yaml`
//! for tests and local runs against moto's server.
//!
//! Every adapter takes its SDK client from one [`aws_config::SdkConfig`], so
//! `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_<SERVICE>`) points the whole backend anywhere.

use std::sync::Arc;

use haven_kernel::Clock;

pub mod attributes;
mod blobs;
mod connections;
mod error;
mod expression;
mod keyring;
pub mod provision;
mod publisher;
mod queue;
mod table;

pub use blobs::S3Blobs;
pub use connections::ApiGatewayConnections;
pub use keyring::KmsKeyRing;
pub use publisher::SnsPublisher;
pub use queue::SqsQueue;
pub use table::DynamoTable;

/// Where the backend's resources are. On AWS these come from the function's environment
/// (`template.yaml` sets them); off AWS the defaults name what [`provision`] creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSettings {
    pub table_name: String,
    /// A key id, key ARN or `alias/...`: seals and opens.
    pub kms_key_id: String,
    /// Keys whose blobs this function may also open (`HAVEN_KMS_ALSO_OPENS`, comma-separated).
    pub kms_also_opens: Vec<String>,
    /// Prepended to logical queue and topic names when they are looked up by name.
    pub resource_prefix: String,
    /// The `@connections` endpoint: `https://{domain}/{stage}` on AWS.
    pub websocket_endpoint: Option<String>,
    /// The S3 bucket of patients' documents (SSE-KMS under its own key).
    pub documents_bucket: String,
}

impl AwsSettings {
    /// Reads `HAVEN_TABLE`, `HAVEN_KMS_KEY_ID`, `HAVEN_KMS_ALSO_OPENS`, `HAVEN_RESOURCE_PREFIX` and
    /// `HAVEN_WEBSOCKET_ENDPOINT` and `HAVEN_DOCUMENTS_BUCKET`; empty values count as unset.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        AwsSettings {
            table_name: var("HAVEN_TABLE").unwrap_or_else(|| "haven".to_owned()),
            kms_key_id: var("HAVEN_KMS_KEY_ID").unwrap_or_else(|| "alias/haven".to_owned()),
            kms_also_opens: var("HAVEN_KMS_ALSO_OPENS")
                .map(|v| v.split(',').map(|k| k.trim().to_owned()).collect())
                .unwrap_or_default(),
            resource_prefix: var("HAVEN_RESOURCE_PREFIX").unwrap_or_else(|| "haven-".to_owned()),
            websocket_endpoint: var("HAVEN_WEBSOCKET_ENDPOINT"),
            documents_bucket: var("HAVEN_DOCUMENTS_BUCKET")
                .unwrap_or_else(|| "haven-documents".to_owned()),
        }
    }
}

/// Every AWS adapter, built once per process.
#[derive(Clone)]
pub struct AwsBackend {
    pub table: DynamoTable,
    pub queue: SqsQueue,
    pub publisher: SnsPublisher,
    pub key_ring: KmsKeyRing,
    pub connections: ApiGatewayConnections,
    pub blobs: S3Blobs,
}

impl AwsBackend {
    /// Loads the SDK configuration (region, credentials, `AWS_ENDPOINT_URL*`) and the
    /// settings from the environment.
    pub async fn from_env(clock: Arc<dyn Clock>) -> Self {
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .load()
            .await;
        AwsBackend::new(&sdk, AwsSettings::from_env(), clock)
    }

    pub fn new(sdk: &aws_config::SdkConfig, settings: AwsSettings, clock: Arc<dyn Clock>) -> Self {
        AwsBackend {
            table: DynamoTable::new(
                aws_sdk_dynamodb::Client::new(sdk),
                settings.table_name.clone(),
                clock,
            ),
            queue: SqsQueue::new(
                aws_sdk_sqs::Client::new(sdk),
                settings.resource_prefix.clone(),
            ),
            publisher: SnsPublisher::new(
                aws_sdk_sns::Client::new(sdk),
                settings.resource_prefix.clone(),
            ),
            key_ring: KmsKeyRing::new(aws_sdk_kms::Client::new(sdk), settings.kms_key_id.clone())
                .also_opening(settings.kms_also_opens.clone()),
            connections: ApiGatewayConnections::new(sdk, settings.websocket_endpoint.as_deref()),
            blobs: S3Blobs::new(sdk, settings.documents_bucket.clone()),
        }
    }

    /// Readiness: one GetItem of a sentinel key. GetItem rather than DescribeTable because
    /// the health functions are granted `dynamodb:GetItem` only.
    pub async fn ping(&self) -> Result<(), String> {
        self.table.ping().await
    }
}
