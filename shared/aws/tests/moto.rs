//! The AWS adapters against moto's server. They run only when `HAVEN_TEST_AWS_ENDPOINT` names
//! it (`make test` does); otherwise each test says it was skipped. Every test uses names of
//! its own, so they can share one server and run concurrently.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::{IndexStatus, TimeToLiveStatus};
use haven_aws::{AwsBackend, AwsSettings, KmsKeyRing, provision};
use haven_kernel::catalogue::{QUEUES, TOPICS};
use haven_kernel::item::EXPIRES_AT;
use haven_kernel::ports::table::CancelReason;
use haven_kernel::ports::{
    Condition, ConnectionError, Connections, EncryptionContext, KeyRing, KeyRingError,
    OutgoingMessage, Publisher, Query, Queue, ReceiveOptions, Table, TableError, TransactOp,
    Update,
};
use haven_kernel::{Clock, Item, Key, ManualClock, SystemClock, Timestamp, Value};

fn endpoint(test: &str) -> Option<String> {
    match std::env::var("HAVEN_TEST_AWS_ENDPOINT") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            println!("skipped {test}: HAVEN_TEST_AWS_ENDPOINT is not set (moto's server URL)");
            None
        }
    }
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

async fn sdk(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test",
            "test",
            None,
            None,
            "haven-aws-tests",
        ))
        .load()
        .await
}

fn settings(endpoint: &str) -> AwsSettings {
    let prefix = unique("a") + "-";
    AwsSettings {
        table_name: format!("{prefix}haven"),
        kms_key_id: format!("alias/{prefix}haven"),
        kms_also_opens: Vec::new(),
        documents_bucket: format!("{prefix}documents"),
        resource_prefix: prefix,
        websocket_endpoint: Some(endpoint.to_owned()),
    }
}

/// A table (and key) of the test's own, with the given clock.
async fn backend(
    endpoint: &str,
    clock: Arc<dyn Clock>,
) -> (AwsBackend, aws_config::SdkConfig, AwsSettings) {
    let sdk = sdk(endpoint).await;
    let settings = settings(endpoint);
    provision::create_table(&aws_sdk_dynamodb::Client::new(&sdk), &settings.table_name)
        .await
        .expect("create table");
    provision::create_key(&aws_sdk_kms::Client::new(&sdk), &settings.kms_key_id)
        .await
        .expect("create key");
    let backend = AwsBackend::new(&sdk, settings.clone(), clock);
    (backend, sdk, settings)
}

/// Every message in the queue, deleted; ends at the first empty long poll.
async fn drain(queue: &impl Queue, name: &str) -> Vec<String> {
    let mut bodies = Vec::new();
    for _ in 0..5 {
        let options = ReceiveOptions {
            max_messages: 10,
            wait: Duration::from_secs(1),
            visibility: None,
        };
        let messages = queue.receive(name, options).await.expect("receive");
        if messages.is_empty() {
            break;
        }
        for m in messages {
            bodies.push(m.body.clone());
            queue.delete(name, &m.receipt_handle).await.expect("delete");
        }
    }
    bodies.sort();
    bodies
}

#[tokio::test]
async fn provisioning_builds_a_whole_stack_idempotently_and_it_fans_out_by_filter() {
    let Some(endpoint) = endpoint("provisioning") else {
        return;
    };
    let sdk = sdk(&endpoint).await;
    let settings = settings(&endpoint);
    provision::provision_all(&sdk, &settings)
        .await
        .expect("provision");
    provision::provision_all(&sdk, &settings)
        .await
        .expect("provision again");

    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let table = dynamodb
        .describe_table()
        .table_name(&settings.table_name)
        .send()
        .await
        .expect("describe table");
    let indexes = table
        .table()
        .map(|t| t.global_secondary_indexes())
        .unwrap_or_default();
    let mut names: Vec<_> = indexes.iter().filter_map(|i| i.index_name()).collect();
    names.sort();
    assert_eq!(names, ["gsi1", "gsi2", "gsi3"]);
    assert!(
        indexes
            .iter()
            .all(|i| i.index_status() == Some(&IndexStatus::Active))
    );
    let ttl = dynamodb
        .describe_time_to_live()
        .table_name(&settings.table_name)
        .send()
        .await
        .expect("describe ttl");
    let ttl = ttl.time_to_live_description().expect("ttl description");
    assert_eq!(ttl.attribute_name(), Some(EXPIRES_AT));
    assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));

    let sqs = aws_sdk_sqs::Client::new(&sdk);
    for spec in QUEUES {
        let url = sqs
            .get_queue_url()
            .queue_name(format!("{}{}", settings.resource_prefix, spec.name))
            .send()
            .await
            .expect("queue exists")
            .queue_url
            .expect("url");
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
            .expect("attributes");
        let attributes = attributes.attributes().cloned().unwrap_or_default();
        let get = |n: aws_sdk_sqs::types::QueueAttributeName| attributes.get(&n).cloned();
        assert_eq!(
            get(aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout),
            Some(spec.visibility_timeout.as_secs().to_string())
        );
        let redrive = get(aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy);
        match spec.dead_letter {
            Some(dl) => {
                let policy: serde_json::Value =
                    serde_json::from_str(&redrive.expect("redrive policy")).expect("json");
                assert!(
                    policy["deadLetterTargetArn"].as_str().is_some_and(
                        |a| a.ends_with(&format!(":{}{}", settings.resource_prefix, dl.queue))
                    ),
                    "{policy}"
                );
                assert_eq!(
                    policy["maxReceiveCount"].to_string().trim_matches('"'),
                    dl.max_receives.to_string()
                );
            }
            None => assert_eq!(redrive, None),
        }
    }

    let sns = aws_sdk_sns::Client::new(&sdk);
    for topic in TOPICS {
        let arn =
            provision::create_topic(&sns, &format!("{}{}", settings.resource_prefix, topic.name))
                .await
                .expect("topic");
        let subscriptions = sns
            .list_subscriptions_by_topic()
            .topic_arn(&arn)
            .send()
            .await
            .expect("subscriptions");
        assert_eq!(
            subscriptions.subscriptions().len(),
            topic.subscriptions.len(),
            "no duplicates after two runs"
        );
    }

    let backend = AwsBackend::new(&sdk, settings.clone(), Arc::new(SystemClock));
    backend.ping().await.expect("ready");
    let key = backend
        .key_ring
        .generate_data_key(&EncryptionContext::new().with("owner", "u1"))
        .await
        .expect("the aliased key works");
    assert_eq!(key.plaintext.len(), 32);

    // The catalogue's alerts topic delivers by its `channels` string array.
    let attributes = BTreeMap::from([("channels".to_owned(), r#"["webhook","sms"]"#.to_owned())]);
    backend
        .publisher
        .publish("alerts", r#"{"alert_id":"a1"}"#, &attributes)
        .await
        .expect("publish");
    let hospital = BTreeMap::from([("channels".to_owned(), r#"["hospital-api"]"#.to_owned())]);
    backend
        .publisher
        .publish("alerts", r#"{"alert_id":"a2"}"#, &hospital)
        .await
        .expect("publish");
    assert_eq!(
        drain(&backend.queue, "webhook").await,
        [r#"{"alert_id":"a1"}"#]
    );
    assert_eq!(drain(&backend.queue, "sms").await, [r#"{"alert_id":"a1"}"#]);
    assert_eq!(
        drain(&backend.queue, "hospital-api").await,
        [r#"{"alert_id":"a2"}"#]
    );
    assert!(drain(&backend.queue, "deadlines").await.is_empty());

    // Subscribing again updates the subscription: no policy now takes every message.
    let alerts = backend.publisher.topic_arn("alerts").await.expect("topic");
    let webhook = backend.queue.url("webhook").await.expect("queue");
    provision::subscribe_queue(&sns, &sqs, &alerts, &webhook, "")
        .await
        .expect("resubscribe");
    let sms_only = BTreeMap::from([("channels".to_owned(), r#"["sms"]"#.to_owned())]);
    backend
        .publisher
        .publish("alerts", "a3", &sms_only)
        .await
        .expect("publish");
    assert_eq!(drain(&backend.queue, "webhook").await, ["a3"]);
}

#[tokio::test]
async fn every_attribute_type_round_trips_through_dynamodb() {
    let Some(endpoint) = endpoint("attribute round trip") else {
        return;
    };
    let (backend, _, _) = backend(&endpoint, Arc::new(SystemClock)).await;
    let key = Key::new(unique("ROUND#"), "TRIP");
    let item = Item::new(&key)
        .with("s", Value::s("Aga Khan — Nairobi"))
        .with("n", Value::N("-12.5".into()))
        .with("big", Value::N("12345678901234567890".into()))
        .with("b", Value::B(vec![0, 1, 2, 254, 255]))
        .with("yes", Value::Bool(true))
        .with("nothing", Value::Null(true))
        .with(
            "list",
            Value::L(vec![Value::n(1), Value::s("two"), Value::L(vec![])]),
        )
        .with(
            "map",
            Value::M(BTreeMap::from([
                ("inner".to_owned(), Value::s("x")),
                (
                    "deeper".to_owned(),
                    Value::M(BTreeMap::from([("n".to_owned(), Value::n(7))])),
                ),
            ])),
        )
        .with(
            "channels",
            Value::StringSet(vec!["sms".into(), "webhook".into()]),
        );
    backend.table.put(item.clone(), None).await.expect("put");
    let mut stored = backend
        .table
        .get(&key)
        .await
        .expect("get")
        .expect("present");
    // A string set has no order in DynamoDB.
    if let Some(Value::StringSet(ss)) = stored.0.get_mut("channels") {
        ss.sort();
    }
    assert_eq!(stored, item);
}

#[tokio::test]
async fn conditional_writes_refuse_and_leave_no_trace() {
    let Some(endpoint) = endpoint("conditional writes") else {
        return;
    };
    let (backend, _, _) = backend(&endpoint, Arc::new(SystemClock)).await;
    let t = &backend.table;
    let key = Key::new(unique("ALERT#"), "META");
    t.put(
        Item::new(&key).with("status", Value::s("triggered")),
        Some(Condition::item_absent()),
    )
    .await
    .expect("first put");
    let refused = t
        .put(
            Item::new(&key).with("status", Value::s("cancelled")),
            Some(Condition::item_absent()),
        )
        .await;
    assert_eq!(refused, Err(TableError::ConditionFailed));
    // `status` is a reserved word in DynamoDB: placeholders make it usable.
    let updated = t
        .update(
            &key,
            Update::new()
                .set("status", Value::s("acked"))
                .add("version", 1),
            Some(Condition::equals("status", Value::s("triggered"))),
        )
        .await
        .expect("update");
    assert_eq!(
        (updated.s("status"), updated.i64("version")),
        (Some("acked"), Some(1))
    );
    let stale = t
        .update(
            &key,
            Update::new().add("version", 1),
            Some(Condition::version_is(0)),
        )
        .await;
    assert_eq!(stale, Err(TableError::ConditionFailed));
    let bad = t.update(&key, Update::new().add("status", 1), None).await;
    assert!(
        matches!(bad, Err(TableError::Invalid(_))),
        "ADD on a string: {bad:?}"
    );
    let old = t
        .delete(&key, Some(Condition::item_present()))
        .await
        .expect("delete");
    assert_eq!(old.and_then(|i| i.i64("version")), Some(1));
    assert_eq!(t.get(&key).await.expect("get"), None);
}

#[tokio::test]
async fn a_cancelled_transaction_reports_a_reason_per_operation() {
    let Some(endpoint) = endpoint("transaction cancel") else {
        return;
    };
    let (backend, _, _) = backend(&endpoint, Arc::new(SystemClock)).await;
    let t = &backend.table;
    let existing = Key::new(unique("IDEMPOTENCY#"), "KEY");
    t.put(Item::new(&existing).with("version", Value::n(2)), None)
        .await
        .expect("put");
    let fresh = Key::new(unique("ALERT#"), "META");
    let ops = vec![
        TransactOp::Put {
            item: Item::new(&fresh),
            condition: Some(Condition::item_absent()),
        },
        TransactOp::Update {
            key: existing.clone(),
            update: Update::new().add("version", 1),
            condition: Some(Condition::version_is(1)),
        },
        TransactOp::Check {
            key: Key::new(unique("MISSING#"), "X"),
            condition: Condition::item_present(),
        },
    ];
    match t.transact_write(ops).await {
        Err(TableError::TransactionCanceled(reasons)) => assert_eq!(
            reasons,
            [
                CancelReason::None,
                CancelReason::ConditionFailed,
                CancelReason::ConditionFailed
            ]
        ),
        other => panic!("expected a cancelled transaction, got {other:?}"),
    }
    assert_eq!(t.get(&fresh).await.expect("get"), None);
    assert_eq!(
        t.get(&existing)
            .await
            .expect("get")
            .and_then(|i| i.i64("version")),
        Some(2)
    );
}

#[tokio::test]
async fn expired_items_read_as_absent_by_the_adapters_clock() {
    let Some(endpoint) = endpoint("expiry") else {
        return;
    };
    let clock = ManualClock::at(Timestamp::from_millis(1_000_000_000_000));
    let (backend, _, _) = backend(&endpoint, Arc::new(clock.clone())).await;
    let t = &backend.table;
    let pk = unique("OTP#");
    let at = clock.now().epoch_seconds() + 60;
    t.put(
        Item::new(&Key::new(&pk, "A")).with(EXPIRES_AT, Value::n(at)),
        None,
    )
    .await
    .expect("put");
    t.put(Item::new(&Key::new(&pk, "B")), None)
        .await
        .expect("put");
    assert!(t.get(&Key::new(&pk, "A")).await.expect("get").is_some());
    assert_eq!(
        t.query(Query::partition(&pk))
            .await
            .expect("query")
            .items
            .len(),
        2
    );
    clock.advance(Duration::from_secs(60));
    assert_eq!(t.get(&Key::new(&pk, "A")).await.expect("get"), None);
    let page = t.query(Query::partition(&pk)).await.expect("query");
    assert_eq!(
        page.items
            .iter()
            .filter_map(|i| i.s("sk"))
            .collect::<Vec<_>>(),
        ["B"]
    );
    // Still there for conditions until DynamoDB sweeps it.
    let refused = t
        .put(
            Item::new(&Key::new(&pk, "A")),
            Some(Condition::item_absent()),
        )
        .await;
    assert_eq!(refused, Err(TableError::ConditionFailed));
}

#[tokio::test]
async fn data_keys_round_trip_and_refuse_another_context() {
    let Some(endpoint) = endpoint("kms data keys") else {
        return;
    };
    let (backend, _, _) = backend(&endpoint, Arc::new(SystemClock)).await;
    let ring = &backend.key_ring;
    let context = EncryptionContext::new()
        .with("owner", "user-1")
        .with("kind", "medical-profile");
    let key = ring.generate_data_key(&context).await.expect("data key");
    assert_eq!(
        *ring
            .decrypt_data_key(&key.wrapped, &context)
            .await
            .expect("unwrap"),
        *key.plaintext
    );
    let other = EncryptionContext::new()
        .with("owner", "user-2")
        .with("kind", "medical-profile");
    assert_eq!(
        ring.decrypt_data_key(&key.wrapped, &other).await.err(),
        Some(KeyRingError::Refused)
    );
    assert_eq!(
        ring.decrypt_data_key(&key.wrapped, &EncryptionContext::new())
            .await
            .err(),
        Some(KeyRingError::Refused)
    );
    let mut tampered = key.wrapped.clone();
    if let Some(last) = tampered.last_mut() {
        *last ^= 1;
    }
    assert_eq!(
        ring.decrypt_data_key(&tampered, &context).await.err(),
        Some(KeyRingError::Refused)
    );
}

#[tokio::test]
async fn a_ring_opens_a_second_key_only_when_told_to() {
    let Some(endpoint) = endpoint("kms second key") else {
        return;
    };
    let sdk = sdk(&endpoint).await;
    let kms = aws_sdk_kms::Client::new(&sdk);
    let medical = format!("alias/{}medical", unique("k"));
    let integration = format!("alias/{}integration", unique("k"));
    for alias in [&medical, &integration] {
        provision::create_key(&kms, alias)
            .await
            .expect("create key");
    }
    let context = EncryptionContext::new().with("hospital", "h-1");
    let sealed = KmsKeyRing::new(kms.clone(), integration.clone())
        .generate_data_key(&context)
        .await
        .expect("data key");
    // The medical-data ring alone refuses the integration key's blob...
    let medical_only = KmsKeyRing::new(kms.clone(), medical.clone());
    assert_eq!(
        medical_only
            .decrypt_data_key(&sealed.wrapped, &context)
            .await
            .err(),
        Some(KeyRingError::Refused)
    );
    // ...and opens it once told it may, while still opening its own.
    let both = medical_only.also_opening([integration.clone()]);
    assert_eq!(
        *both
            .decrypt_data_key(&sealed.wrapped, &context)
            .await
            .expect("opens the second key's blob"),
        *sealed.plaintext
    );
    let own = both.generate_data_key(&context).await.expect("own key");
    assert_eq!(
        *both
            .decrypt_data_key(&own.wrapped, &context)
            .await
            .expect("opens its own"),
        *own.plaintext
    );
    // A blob of neither key, or a tampered one, is still refused.
    let mut tampered = sealed.wrapped.clone();
    if let Some(last) = tampered.last_mut() {
        *last ^= 1;
    }
    assert_eq!(
        both.decrypt_data_key(&tampered, &context).await.err(),
        Some(KeyRingError::Refused)
    );
}

#[tokio::test]
async fn a_message_received_too_often_moves_to_the_dead_letter_queue() {
    let Some(endpoint) = endpoint("sqs redrive") else {
        return;
    };
    let sdk = sdk(&endpoint).await;
    let settings = settings(&endpoint);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let p = &settings.resource_prefix;
    provision::create_queue(&sqs, &format!("{p}work-dlq"), Duration::from_secs(30), None)
        .await
        .expect("dlq");
    provision::create_queue(
        &sqs,
        &format!("{p}work"),
        Duration::from_secs(30),
        Some((&format!("{p}work-dlq"), 2)),
    )
    .await
    .expect("queue");
    let backend = AwsBackend::new(&sdk, settings.clone(), Arc::new(SystemClock));
    let q = &backend.queue;
    q.send(
        "work",
        OutgoingMessage::new("poison").attribute("kind", "test"),
    )
    .await
    .expect("send");
    let one = ReceiveOptions {
        max_messages: 1,
        wait: Duration::from_secs(2),
        visibility: None,
    };
    for attempt in 1..=2 {
        let m = q.receive("work", one.clone()).await.expect("receive");
        let m = m.first().expect("delivered while under the limit");
        assert_eq!(m.receive_count, attempt);
        assert_eq!(m.attributes.get("kind").map(String::as_str), Some("test"));
        q.change_visibility("work", &m.receipt_handle, Duration::ZERO)
            .await
            .expect("release");
    }
    let third = q
        .receive(
            "work",
            ReceiveOptions {
                wait: Duration::from_secs(1),
                ..one.clone()
            },
        )
        .await
        .expect("receive");
    assert!(third.is_empty(), "no third delivery");
    let dead = q.receive("work-dlq", one).await.expect("receive dlq");
    assert_eq!(dead.first().map(|m| m.body.as_str()), Some("poison"));
    let depth = q.depth("work").await.expect("depth");
    assert_eq!((depth.visible, depth.in_flight, depth.delayed), (0, 0, 0));
}

#[tokio::test]
async fn post_to_connection_on_moto() {
    let Some(endpoint) = endpoint("post to connection") else {
        return;
    };
    let sdk = sdk(&endpoint).await;
    let backend = AwsBackend::new(&sdk, settings(&endpoint), Arc::new(SystemClock));
    // moto keeps no connections: it answers 200 to a post to any id.
    let result = backend
        .connections
        .post(&unique("conn-"), b"{\"type\":\"ping\"}")
        .await;
    println!("PostToConnection to an unknown id on moto: {result:?}");
    assert!(
        matches!(result, Ok(()) | Err(ConnectionError::Gone)),
        "{result:?}"
    );
    let unconfigured = AwsBackend::new(
        &sdk,
        AwsSettings {
            websocket_endpoint: None,
            ..settings(&endpoint)
        },
        Arc::new(SystemClock),
    );
    assert_eq!(
        unconfigured.connections.post("c1", b"x").await,
        Err(ConnectionError::Failed(
            "no websocket endpoint configured".into()
        ))
    );
    // Its table was never created: readiness says so.
    let not_ready = unconfigured.ping().await.expect_err("no table");
    assert!(
        not_ready.contains("ResourceNotFoundException"),
        "{not_ready}"
    );
}
