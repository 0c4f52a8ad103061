//! Creates Haven's resources the way `template.yaml` declares them, for tests and local runs
//! against moto's server (on AWS, CloudFormation does this). Idempotent where AWS allows:
//! running it twice leaves one of everything.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TableStatus, TimeToLiveSpecification, TimeToLiveStatus,
};
use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use aws_sdk_sqs::types::QueueAttributeName;
use haven_kernel::catalogue::{QUEUES, QueueSpec, TOPICS};
use haven_kernel::item::EXPIRES_AT;
use haven_kernel::ports::Index;
use haven_kernel::ports::queue::MAX_VISIBILITY;

use crate::AwsSettings;
use crate::error::Failure;
use crate::queue::whole_seconds;

/// Dead-letter queues keep messages 14 days, the most SQS allows (as in `template.yaml`).
const DEAD_LETTER_RETENTION: Duration = Duration::from_secs(14 * 24 * 60 * 60);
/// How long to wait for a new table to become ACTIVE (at once on moto, seconds on AWS).
const TABLE_READY_WITHIN: Duration = Duration::from_secs(120);

fn failed<E, R>(what: &str, err: &aws_sdk_dynamodb::error::SdkError<E, R>) -> String
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    format!("{what}: {}", Failure::of(err).summary)
}

fn built<T>(
    what: &str,
    result: Result<T, aws_smithy_types::error::operation::BuildError>,
) -> Result<T, String> {
    result.map_err(|e| format!("{what}: {e}"))
}

/// The table: `pk`/`sk` strings, GSIs `gsi1`..`gsi3` projecting whole items, on-demand
/// billing, then TTL on `expires_at`. An existing table is left as it is.
pub async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str) -> Result<(), String> {
    let what = format!("create table {name}");
    let mut definitions = Vec::new();
    let mut indexes = Vec::new();
    for index in Index::ALL {
        for attribute in [index.partition_attribute(), index.sort_attribute()] {
            definitions.push(built(
                &what,
                AttributeDefinition::builder()
                    .attribute_name(attribute)
                    .attribute_type(ScalarAttributeType::S)
                    .build(),
            )?);
        }
        if let Some(index_name) = index.name() {
            indexes.push(built(
                &what,
                GlobalSecondaryIndex::builder()
                    .index_name(index_name)
                    .key_schema(key_element(
                        &what,
                        index.partition_attribute(),
                        KeyType::Hash,
                    )?)
                    .key_schema(key_element(&what, index.sort_attribute(), KeyType::Range)?)
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build(),
            )?);
        }
    }
    let created = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(definitions))
        .key_schema(key_element(
            &what,
            Index::Table.partition_attribute(),
            KeyType::Hash,
        )?)
        .key_schema(key_element(
            &what,
            Index::Table.sort_attribute(),
            KeyType::Range,
        )?)
        .set_global_secondary_indexes(Some(indexes))
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(e) if Failure::of(&e).code_is(&["ResourceInUseException"]) => {}
        Err(e) => return Err(failed(&what, &e)),
    }
    wait_until_active(client, name).await?;
    enable_ttl(client, name).await
}

fn key_element(what: &str, attribute: &str, key_type: KeyType) -> Result<KeySchemaElement, String> {
    built(
        what,
        KeySchemaElement::builder()
            .attribute_name(attribute)
            .key_type(key_type)
            .build(),
    )
}

async fn wait_until_active(client: &aws_sdk_dynamodb::Client, name: &str) -> Result<(), String> {
    let started = Instant::now();
    loop {
        let out = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| failed(&format!("describe table {name}"), &e))?;
        if out.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            return Ok(());
        }
        if started.elapsed() > TABLE_READY_WITHIN {
            return Err(format!(
                "table {name} is not ACTIVE after {TABLE_READY_WITHIN:?}"
            ));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn enable_ttl(client: &aws_sdk_dynamodb::Client, name: &str) -> Result<(), String> {
    let what = format!("enable TTL on {name}");
    let current = client
        .describe_time_to_live()
        .table_name(name)
        .send()
        .await
        .map_err(|e| failed(&what, &e))?;
    let description = current.time_to_live_description();
    let enabled = matches!(
        description.and_then(|d| d.time_to_live_status()),
        Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
    );
    if enabled && description.and_then(|d| d.attribute_name()) == Some(EXPIRES_AT) {
        return Ok(());
    }
    let specification = built(
        &what,
        TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name(EXPIRES_AT)
            .build(),
    )?;
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(specification)
        .send()
        .await
        .map_err(|e| failed(&what, &e))?;
    Ok(())
}

async fn queue_url(client: &aws_sdk_sqs::Client, name: &str) -> Result<String, String> {
    client
        .get_queue_url()
        .queue_name(name)
        .send()
        .await
        .map_err(|e| failed(&format!("find queue {name}"), &e))?
        .queue_url
        .ok_or_else(|| format!("find queue {name}: no URL returned"))
}

async fn queue_attribute(
    client: &aws_sdk_sqs::Client,
    url: &str,
    name: QueueAttributeName,
) -> Result<Option<String>, String> {
    let out = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(name.clone())
        .send()
        .await
        .map_err(|e| failed(&format!("read {name} of {url}"), &e))?;
    Ok(out.attributes().and_then(|a| a.get(&name)).cloned())
}

async fn queue_arn(client: &aws_sdk_sqs::Client, url: &str) -> Result<String, String> {
    queue_attribute(client, url, QueueAttributeName::QueueArn)
        .await?
        .ok_or_else(|| format!("queue {url} has no ARN"))
}

/// A queue with its visibility timeout and, optionally, a redrive policy to an existing
/// dead-letter queue (named, not prefixed further) after `max_receives` receives. An existing
/// queue gets these attributes set. Returns the queue URL.
pub async fn create_queue(
    client: &aws_sdk_sqs::Client,
    name: &str,
    visibility_timeout: Duration,
    dead_letter: Option<(&str, u32)>,
) -> Result<String, String> {
    let what = format!("create queue {name}");
    if visibility_timeout > MAX_VISIBILITY {
        return Err(format!(
            "{what}: the visibility timeout is at most 12 hours"
        ));
    }
    let mut attributes = HashMap::from([(
        QueueAttributeName::VisibilityTimeout,
        whole_seconds(visibility_timeout).to_string(),
    )]);
    if let Some((dead_letter_queue, max_receives)) = dead_letter {
        if max_receives == 0 {
            return Err(format!("{what}: maxReceiveCount is at least 1"));
        }
        let dlq_url = queue_url(client, dead_letter_queue).await?;
        let policy = serde_json::json!({
            "deadLetterTargetArn": queue_arn(client, &dlq_url).await?,
            "maxReceiveCount": max_receives,
        });
        attributes.insert(QueueAttributeName::RedrivePolicy, policy.to_string());
    }
    let created = client
        .create_queue()
        .queue_name(name)
        .set_attributes(Some(attributes.clone()))
        .send()
        .await;
    match created {
        Ok(out) => out
            .queue_url
            .ok_or_else(|| format!("{what}: no URL returned")),
        // The queue exists with other attributes: converge them.
        Err(e) if Failure::of(&e).code_is(&["QueueAlreadyExists", "QueueNameExists"]) => {
            let url = queue_url(client, name).await?;
            client
                .set_queue_attributes()
                .queue_url(&url)
                .set_attributes(Some(attributes))
                .send()
                .await
                .map_err(|e| failed(&what, &e))?;
            Ok(url)
        }
        Err(e) => Err(failed(&what, &e)),
    }
}

/// A standard topic (CreateTopic is idempotent). Returns its ARN.
pub async fn create_topic(client: &aws_sdk_sns::Client, name: &str) -> Result<String, String> {
    let what = format!("create topic {name}");
    client
        .create_topic()
        .name(name)
        .send()
        .await
        .map_err(|e| failed(&what, &e))?
        .topic_arn
        .ok_or_else(|| format!("{what}: no ARN returned"))
}

/// A statement id unique to a topic (letters and digits only, as SQS asks).
fn statement_id(topic_arn: &str) -> String {
    let name: String = topic_arn
        .rsplit(':')
        .next()
        .unwrap_or(topic_arn)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    format!("HavenTopic{name}")
}

/// The queue policy with a statement letting `topic_arn` send to the queue, replacing an
/// earlier statement for the same topic and keeping any others.
fn queue_policy(existing: Option<&str>, queue_arn: &str, topic_arn: &str) -> String {
    let sid = statement_id(topic_arn);
    let mut statements: Vec<serde_json::Value> = existing
        .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
        .and_then(|p| p.get("Statement").and_then(|s| s.as_array()).cloned())
        .unwrap_or_default();
    statements.retain(|s| s.get("Sid").and_then(|v| v.as_str()) != Some(sid.as_str()));
    statements.push(serde_json::json!({
        "Sid": sid,
        "Effect": "Allow",
        "Principal": { "Service": "sns.amazonaws.com" },
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
        "Condition": { "ArnEquals": { "aws:SourceArn": topic_arn } },
    }));
    serde_json::json!({ "Version": "2012-10-17", "Statement": statements }).to_string()
}

/// Subscribes a queue to a topic with raw message delivery and a filter policy on message
/// attributes (`""`: every message), and lets the topic send to the queue. Subscribing again
/// updates the existing subscription's attributes.
pub async fn subscribe_queue(
    sns: &aws_sdk_sns::Client,
    sqs: &aws_sdk_sqs::Client,
    topic_arn: &str,
    queue_url: &str,
    filter_policy_json: &str,
) -> Result<(), String> {
    let what = format!("subscribe {queue_url} to {topic_arn}");
    let filter_policy = filter_policy_json.trim();
    if !filter_policy.is_empty() {
        serde_json::from_str::<serde_json::Value>(filter_policy)
            .map_err(|e| format!("{what}: the filter policy is not JSON: {e}"))?;
    }
    let queue_arn = queue_arn(sqs, queue_url).await?;
    let existing = queue_attribute(sqs, queue_url, QueueAttributeName::Policy).await?;
    sqs.set_queue_attributes()
        .queue_url(queue_url)
        .attributes(
            QueueAttributeName::Policy,
            queue_policy(existing.as_deref(), &queue_arn, topic_arn),
        )
        .send()
        .await
        .map_err(|e| failed(&what, &e))?;

    let mut attributes = vec![("RawMessageDelivery", "true")];
    if !filter_policy.is_empty() {
        attributes.push(("FilterPolicyScope", "MessageAttributes"));
        attributes.push(("FilterPolicy", filter_policy));
    }
    match find_subscription(sns, topic_arn, &queue_arn).await? {
        None => {
            let mut request = sns
                .subscribe()
                .topic_arn(topic_arn)
                .protocol("sqs")
                .endpoint(&queue_arn)
                .return_subscription_arn(true);
            for (name, value) in attributes {
                request = request.attributes(name, value);
            }
            request.send().await.map_err(|e| failed(&what, &e))?;
        }
        Some(subscription_arn) => {
            let current = sns
                .get_subscription_attributes()
                .subscription_arn(&subscription_arn)
                .send()
                .await
                .map_err(|e| failed(&what, &e))?;
            let had_policy = current
                .attributes()
                .and_then(|a| a.get("FilterPolicy"))
                .is_some_and(|p| !p.trim().is_empty());
            if filter_policy.is_empty() && had_policy {
                // An empty policy object matches every message.
                attributes.push(("FilterPolicy", "{}"));
            }
            for (name, value) in attributes {
                sns.set_subscription_attributes()
                    .subscription_arn(&subscription_arn)
                    .attribute_name(name)
                    .attribute_value(value)
                    .send()
                    .await
                    .map_err(|e| failed(&what, &e))?;
            }
        }
    }
    Ok(())
}

async fn find_subscription(
    sns: &aws_sdk_sns::Client,
    topic_arn: &str,
    queue_arn: &str,
) -> Result<Option<String>, String> {
    let mut next_token = None;
    loop {
        let page = sns
            .list_subscriptions_by_topic()
            .topic_arn(topic_arn)
            .set_next_token(next_token)
            .send()
            .await
            .map_err(|e| failed(&format!("list subscriptions of {topic_arn}"), &e))?;
        let found = page
            .subscriptions()
            .iter()
            .find(|s| s.protocol() == Some("sqs") && s.endpoint() == Some(queue_arn))
            .and_then(|s| s.subscription_arn())
            .filter(|arn| arn.starts_with("arn:"));
        if let Some(arn) = found {
            return Ok(Some(arn.to_owned()));
        }
        match page.next_token {
            Some(token) if !token.is_empty() => next_token = Some(token),
            _ => return Ok(None),
        }
    }
}

/// A symmetric encryption key with the alias `alias` (`alias/...`). If the alias exists, its
/// key is returned and nothing is created. Returns the key id.
pub async fn create_key(client: &aws_sdk_kms::Client, alias: &str) -> Result<String, String> {
    let what = format!("create key {alias}");
    if !alias.starts_with("alias/") || alias.len() <= "alias/".len() {
        return Err(format!("{what}: a key alias starts with alias/"));
    }
    if let Some(key_id) = aliased_key(client, alias).await? {
        return Ok(key_id);
    }
    let key_id = client
        .create_key()
        .key_spec(KeySpec::SymmetricDefault)
        .key_usage(KeyUsageType::EncryptDecrypt)
        .description("Haven: envelope encryption of medical data and secrets")
        .send()
        .await
        .map_err(|e| failed(&what, &e))?
        .key_metadata
        .map(|m| m.key_id)
        .ok_or_else(|| format!("{what}: no key metadata returned"))?;
    match client
        .create_alias()
        .alias_name(alias)
        .target_key_id(&key_id)
        .send()
        .await
    {
        Ok(_) => Ok(key_id),
        // Another run made the alias meanwhile: use its key, retire ours.
        Err(e) if Failure::of(&e).code_is(&["AlreadyExistsException"]) => {
            let _ = client
                .schedule_key_deletion()
                .key_id(&key_id)
                .pending_window_in_days(7)
                .send()
                .await;
            aliased_key(client, alias)
                .await?
                .ok_or_else(|| format!("{what}: the alias exists but names no key"))
        }
        Err(e) => Err(failed(&what, &e)),
    }
}

async fn aliased_key(client: &aws_sdk_kms::Client, key: &str) -> Result<Option<String>, String> {
    match client.describe_key().key_id(key).send().await {
        Ok(out) => Ok(out.key_metadata.map(|m| m.key_id)),
        Err(e) if Failure::of(&e).code_is(&["NotFoundException"]) => Ok(None),
        Err(e) => Err(failed(&format!("describe key {key}"), &e)),
    }
}

/// A whole Haven stack: the table, every queue of the catalogue (dead-letter queues first)
/// and every topic with its subscriptions, the documents bucket, all named `resource_prefix + name`, and the KMS
/// key under `kms_key_id` when that is an alias (a key id or ARN must exist already).
pub async fn provision_all(
    sdk: &aws_config::SdkConfig,
    settings: &AwsSettings,
) -> Result<(), String> {
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let sns = aws_sdk_sns::Client::new(sdk);
    let kms = aws_sdk_kms::Client::new(sdk);
    let prefix = &settings.resource_prefix;

    create_table(&dynamodb, &settings.table_name).await?;

    let mut urls = HashMap::new();
    let (dead_letter_queues, channels): (Vec<&QueueSpec>, Vec<&QueueSpec>) =
        QUEUES.iter().partition(|q| q.dead_letter.is_none());
    for spec in dead_letter_queues.into_iter().chain(channels) {
        let dead_letter = spec
            .dead_letter
            .map(|d| (format!("{prefix}{}", d.queue), d.max_receives));
        let url = create_queue(
            &sqs,
            &format!("{prefix}{}", spec.name),
            spec.visibility_timeout,
            dead_letter.as_ref().map(|(q, n)| (q.as_str(), *n)),
        )
        .await?;
        urls.insert(spec.name, url);
    }
    for spec in QUEUES {
        if let Some(url) = spec.dead_letter.and_then(|d| urls.get(d.queue)) {
            sqs.set_queue_attributes()
                .queue_url(url)
                .attributes(
                    QueueAttributeName::MessageRetentionPeriod,
                    DEAD_LETTER_RETENTION.as_secs().to_string(),
                )
                .send()
                .await
                .map_err(|e| failed(&format!("set the retention of {url}"), &e))?;
        }
    }

    for topic in TOPICS {
        let topic_arn = create_topic(&sns, &format!("{prefix}{}", topic.name)).await?;
        for subscription in topic.subscriptions {
            let url = urls.get(subscription.queue).ok_or_else(|| {
                format!(
                    "topic {} subscribes an undeclared queue {}",
                    topic.name, subscription.queue
                )
            })?;
            subscribe_queue(&sns, &sqs, &topic_arn, url, subscription.filter_policy).await?;
        }
    }

    crate::S3Blobs::new(sdk, settings.documents_bucket.clone())
        .create_bucket()
        .await?;

    if settings.kms_key_id.starts_with("alias/") {
        create_key(&kms, &settings.kms_key_id).await?;
    } else if aliased_key(&kms, &settings.kms_key_id).await?.is_none() {
        return Err(format!("KMS key {} does not exist", settings.kms_key_id));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_policies_keep_other_statements_and_replace_their_own() {
        let topic = "arn:aws:sns:us-east-1:123456789012:haven-alerts";
        let queue = "arn:aws:sqs:us-east-1:123456789012:haven-sms";
        let first = queue_policy(None, queue, topic);
        let other =
            serde_json::json!({"Statement": [{"Sid": "Mine", "Effect": "Deny"}]}).to_string();
        let merged = queue_policy(Some(&other), queue, topic);
        let again = queue_policy(Some(&merged), queue, topic);
        let statements = |p: &str| -> Vec<serde_json::Value> {
            serde_json::from_str::<serde_json::Value>(p).expect("json")["Statement"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        };
        assert_eq!(statements(&first).len(), 1);
        assert_eq!(
            statements(&again).len(),
            2,
            "one statement per topic, others kept"
        );
        assert_eq!(statements(&again)[1]["Sid"], "HavenTopichavenalerts");
        assert_eq!(
            statements(&again)[1]["Condition"]["ArnEquals"]["aws:SourceArn"],
            topic
        );
    }
}
