//! The contract every adapter set honours. Each case gets a fresh backend; names are unique
//! so the AWS half can share one moto server.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use haven_kernel::item::EXPIRES_AT;
use haven_kernel::ports::table::CancelReason;
use haven_kernel::ports::{
    BlobError, BlobStore, Condition, EncryptionContext, HEAD_BYTES, Index, KeyRing, KeyRingError,
    OutgoingMessage, PublishError, Publisher, Query, Queue, QueueError, ReceiveOptions,
    ReceivedMessage, SortKey, Table, TableError, TransactOp, Update,
};
use haven_kernel::{Item, Key, Value};

use crate::backends::{ContractBackend, unique};

fn item(pk: &str, sk: &str) -> Item {
    Item::new(&Key::new(pk, sk))
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

async fn put_all<B: ContractBackend>(b: &B, items: Vec<Item>) {
    for i in items {
        b.table().put(i, None).await.expect("put");
    }
}

fn sks(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .map(|i| i.s("sk").unwrap_or("?").to_owned())
        .collect()
}

pub async fn conditional_put_is_refused_on_an_existing_item<B: ContractBackend>(b: &B) {
    let key = Key::new(unique("ALERT#"), "META");
    let first = Item::new(&key).with("status", Value::s("triggered"));
    b.table()
        .put(first.clone(), Some(Condition::item_absent()))
        .await
        .expect("first put");
    let second = Item::new(&key).with("status", Value::s("cancelled"));
    let err = b
        .table()
        .put(second, Some(Condition::item_absent()))
        .await
        .expect_err("second put refused");
    assert_eq!(err, TableError::ConditionFailed);
    let stored = b.table().get(&key).await.expect("get").expect("present");
    assert_eq!(
        stored.s("status"),
        Some("triggered"),
        "the refused write left no trace"
    );
}

pub async fn optimistic_locking_by_version<B: ContractBackend>(b: &B) {
    let key = Key::new(unique("PROFILE#"), "V");
    b.table()
        .put(
            Item::new(&key).with("version", Value::n(1)),
            Some(Condition::item_absent()),
        )
        .await
        .expect("create");
    // Two writers read version 1; the first wins, the second is refused.
    let winner = b
        .table()
        .update(
            &key,
            Update::new().set("note", Value::s("a")).add("version", 1),
            Some(Condition::version_is(1)),
        )
        .await
        .expect("first writer");
    assert_eq!(winner.i64("version"), Some(2));
    let loser = b
        .table()
        .update(
            &key,
            Update::new().set("note", Value::s("b")).add("version", 1),
            Some(Condition::version_is(1)),
        )
        .await;
    assert_eq!(
        loser.expect_err("stale writer refused"),
        TableError::ConditionFailed
    );
    let stored = b.table().get(&key).await.expect("get").expect("present");
    assert_eq!(
        (stored.s("note"), stored.i64("version")),
        (Some("a"), Some(2))
    );
}

pub async fn update_creates_and_returns_the_new_item<B: ContractBackend>(b: &B) {
    let key = Key::new(unique("COUNTER#"), "C");
    let created = b
        .table()
        .update(
            &key,
            Update::new()
                .add("count", 5)
                .set_if_absent("created", Value::s("first")),
            None,
        )
        .await
        .expect("upsert");
    assert_eq!(created.i64("count"), Some(5));
    let again = b
        .table()
        .update(
            &key,
            Update::new()
                .add("count", 2)
                .set_if_absent("created", Value::s("second"))
                .remove("missing"),
            Some(Condition::item_present()),
        )
        .await
        .expect("update");
    assert_eq!(
        (again.i64("count"), again.s("created")),
        (Some(7), Some("first"))
    );
    assert_eq!(again.key(), Some(key.clone()));
    let absent = Key::new(unique("COUNTER#"), "C");
    let refused = b
        .table()
        .update(
            &absent,
            Update::new().add("count", 1),
            Some(Condition::item_present()),
        )
        .await;
    assert_eq!(
        refused.expect_err("update of a missing item"),
        TableError::ConditionFailed
    );
    assert_eq!(b.table().get(&absent).await.expect("get"), None);
}

pub async fn conditional_delete_returns_the_old_item<B: ContractBackend>(b: &B) {
    let key = Key::new(unique("SESSION#"), "S");
    b.table()
        .put(Item::new(&key).with("state", Value::s("open")), None)
        .await
        .expect("put");
    let refused = b
        .table()
        .delete(&key, Some(Condition::equals("state", Value::s("closed"))))
        .await;
    assert_eq!(refused.expect_err("condition"), TableError::ConditionFailed);
    let old = b
        .table()
        .delete(&key, Some(Condition::equals("state", Value::s("open"))))
        .await
        .expect("delete");
    assert_eq!(
        old.and_then(|i| i.s("state").map(str::to_owned)).as_deref(),
        Some("open")
    );
    assert_eq!(b.table().get(&key).await.expect("get"), None);
    assert_eq!(
        b.table().delete(&key, None).await.expect("delete again"),
        None
    );
}

pub async fn sort_key_equality_prefix_and_range_queries<B: ContractBackend>(b: &B) {
    let pk = unique("PATIENT#");
    put_all(
        b,
        vec![
            item(&pk, "ALERT#2026-01-01"),
            item(&pk, "ALERT#2026-02-01"),
            item(&pk, "ALERT#2026-03-01"),
            item(&pk, "LAB#2026-01-15"),
            item(&pk, "PROFILE"),
        ],
    )
    .await;
    let t = b.table();
    let q = |s: SortKey| Query::partition(&pk).sort(s);
    let page = t.query(q(SortKey::Eq("PROFILE".into()))).await.expect("eq");
    assert_eq!(sks(&page.items), ["PROFILE"]);
    let page = t
        .query(q(SortKey::BeginsWith("ALERT#".into())))
        .await
        .expect("prefix");
    assert_eq!(
        sks(&page.items),
        ["ALERT#2026-01-01", "ALERT#2026-02-01", "ALERT#2026-03-01"]
    );
    let page = t
        .query(q(SortKey::BeginsWith("ALERT#".into())).backward())
        .await
        .expect("prefix backward");
    assert_eq!(
        sks(&page.items),
        ["ALERT#2026-03-01", "ALERT#2026-02-01", "ALERT#2026-01-01"]
    );
    let page = t
        .query(q(SortKey::Between(
            "ALERT#2026-02".into(),
            "LAB#2026-01-15".into(),
        )))
        .await
        .expect("between");
    assert_eq!(
        sks(&page.items),
        ["ALERT#2026-02-01", "ALERT#2026-03-01", "LAB#2026-01-15"]
    );
    let page = t
        .query(q(SortKey::Lt("ALERT#2026-02-01".into())))
        .await
        .expect("lt");
    assert_eq!(sks(&page.items), ["ALERT#2026-01-01"]);
    let page = t.query(q(SortKey::Ge("LAB#".into()))).await.expect("ge");
    assert_eq!(sks(&page.items), ["LAB#2026-01-15", "PROFILE"]);
    let page = t
        .query(Query::partition(unique("NOBODY#")))
        .await
        .expect("empty partition");
    assert!(page.items.is_empty() && page.cursor.is_none());
}

pub async fn gsi_queries_see_only_items_with_index_keys<B: ContractBackend>(b: &B) {
    let cell = unique("GEO#");
    let other = unique("GEO#");
    put_all(
        b,
        vec![
            item(&unique("HOSPITAL#"), "PROFILE")
                .with("gsi3pk", Value::s(&cell))
                .with("gsi3sk", Value::s("kzf0b#2")),
            item(&unique("HOSPITAL#"), "PROFILE")
                .with("gsi3pk", Value::s(&cell))
                .with("gsi3sk", Value::s("kzf0a#1")),
            item(&unique("HOSPITAL#"), "PROFILE")
                .with("gsi3pk", Value::s(&other))
                .with("gsi3sk", Value::s("kzf0c#3")),
            // Not in the index: no index attributes (a sparse index).
            item(&unique("HOSPITAL#"), "PROFILE"),
        ],
    )
    .await;
    let page = b
        .table()
        .query(Query::partition(&cell).on(Index::Gsi3))
        .await
        .expect("gsi query");
    let order: Vec<_> = page
        .items
        .iter()
        .map(|i| i.s("gsi3sk").unwrap_or("?").to_owned())
        .collect();
    assert_eq!(order, ["kzf0a#1", "kzf0b#2"]);
    assert!(
        page.items.iter().all(|i| i.s("sk") == Some("PROFILE")),
        "whole items are projected"
    );
    let prefixed = b
        .table()
        .query(
            Query::partition(&cell)
                .on(Index::Gsi3)
                .sort(SortKey::BeginsWith("kzf0b".into())),
        )
        .await
        .expect("gsi prefix");
    assert_eq!(prefixed.items.len(), 1);
    let owner = unique("OWNER#");
    put_all(
        b,
        vec![
            item(&unique("X#"), "A")
                .with("gsi1pk", Value::s(&owner))
                .with("gsi1sk", Value::s("1")),
        ],
    )
    .await;
    let by_owner = b
        .table()
        .query(Query::partition(&owner).on(Index::Gsi1))
        .await
        .expect("gsi1");
    assert_eq!(by_owner.items.len(), 1);
}

pub async fn pagination_with_cursors_in_both_directions<B: ContractBackend>(b: &B) {
    let pk = unique("HISTORY#");
    let expected: Vec<String> = (0..7).map(|i| format!("ALERT#{i:03}")).collect();
    put_all(b, expected.iter().map(|sk| item(&pk, sk)).collect()).await;
    for forward in [true, false] {
        let mut seen = Vec::new();
        let mut cursor = None;
        let mut pages = 0;
        loop {
            let mut q = Query::partition(&pk)
                .sort(SortKey::BeginsWith("ALERT#".into()))
                .limit(3)
                .after(cursor);
            if !forward {
                q = q.backward();
            }
            let page = b.table().query(q).await.expect("page");
            assert!(page.items.len() <= 3);
            seen.extend(sks(&page.items));
            pages += 1;
            assert!(pages <= 4, "paging does not end");
            match page.cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        let mut want = expected.clone();
        if !forward {
            want.reverse();
        }
        assert_eq!(seen, want, "forward={forward}: every item once, in order");
    }
    let bogus = haven_kernel::ports::Cursor::parse("bm90LWEtY3Vyc29y");
    assert!(bogus.is_err(), "a cursor we did not issue is refused");
}

pub async fn transactions_are_all_or_nothing<B: ContractBackend>(b: &B) {
    let alert = Key::new(unique("ALERT#"), "META");
    let outbox = Key::new(unique("OUTBOX#"), "ALERT");
    let existing = Key::new(unique("IDEMPOTENCY#"), "KEY");
    b.table()
        .put(Item::new(&existing), None)
        .await
        .expect("existing");
    let ops = vec![
        TransactOp::Put {
            item: Item::new(&alert).with("status", Value::s("matched")),
            condition: Some(Condition::item_absent()),
        },
        TransactOp::Put {
            item: Item::new(&outbox),
            condition: None,
        },
        // Fails: the idempotency record exists.
        TransactOp::Put {
            item: Item::new(&existing).with("x", Value::n(1)),
            condition: Some(Condition::item_absent()),
        },
    ];
    match b.table().transact_write(ops).await.expect_err("cancelled") {
        TableError::TransactionCanceled(reasons) => {
            assert_eq!(
                reasons,
                vec![
                    CancelReason::None,
                    CancelReason::None,
                    CancelReason::ConditionFailed
                ]
            );
        }
        other => panic!("expected a cancelled transaction, got {other:?}"),
    }
    assert_eq!(
        b.table().get(&alert).await.expect("get"),
        None,
        "nothing of a cancelled transaction is written"
    );
    assert_eq!(b.table().get(&outbox).await.expect("get"), None);
    assert_eq!(
        b.table()
            .get(&existing)
            .await
            .expect("get")
            .and_then(|i| i.i64("x")),
        None
    );
    let ok = vec![
        TransactOp::Put {
            item: Item::new(&alert).with("status", Value::s("matched")),
            condition: Some(Condition::item_absent()),
        },
        TransactOp::Update {
            key: outbox.clone(),
            update: Update::new().set("due", Value::n(1)),
            condition: None,
        },
        TransactOp::Check {
            key: existing.clone(),
            condition: Condition::item_present(),
        },
        TransactOp::Delete {
            key: Key::new(unique("GONE#"), "X"),
            condition: None,
        },
    ];
    b.table().transact_write(ok).await.expect("committed");
    assert!(b.table().get(&alert).await.expect("get").is_some());
    assert_eq!(
        b.table()
            .get(&outbox)
            .await
            .expect("get")
            .and_then(|i| i.i64("due")),
        Some(1)
    );
}

pub async fn transactions_hold_at_most_100_items<B: ContractBackend>(b: &B) {
    let pk = unique("BULK#");
    let ops = |n: usize| -> Vec<TransactOp> {
        (0..n)
            .map(|i| TransactOp::Put {
                item: item(&pk, &format!("{i:03}")),
                condition: None,
            })
            .collect()
    };
    assert!(matches!(
        b.table().transact_write(ops(101)).await,
        Err(TableError::Invalid(_))
    ));
    assert!(
        b.table()
            .query(Query::partition(&pk))
            .await
            .expect("query")
            .items
            .is_empty()
    );
    b.table().transact_write(ops(100)).await.expect("100 items");
    let mut count = 0;
    let mut cursor = None;
    loop {
        let page = b
            .table()
            .query(Query::partition(&pk).after(cursor))
            .await
            .expect("query");
        count += page.items.len();
        cursor = page.cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(count, 100);
    let twice = vec![
        TransactOp::Put {
            item: item(&pk, "dup"),
            condition: None,
        },
        TransactOp::Delete {
            key: Key::new(&pk, "dup"),
            condition: None,
        },
    ];
    assert!(matches!(
        b.table().transact_write(twice).await,
        Err(TableError::Invalid(_))
    ));
}

pub async fn expired_items_are_not_returned<B: ContractBackend>(b: &B) {
    let pk = unique("OTP#");
    let expired = item(&pk, "A").with(EXPIRES_AT, Value::n(now_secs() - 60));
    let live = item(&pk, "B").with(EXPIRES_AT, Value::n(now_secs() + 3600));
    let forever = item(&pk, "C");
    put_all(b, vec![expired, live, forever]).await;
    assert_eq!(
        b.table().get(&Key::new(&pk, "A")).await.expect("get"),
        None,
        "an expired item reads as absent"
    );
    assert!(
        b.table()
            .get(&Key::new(&pk, "B"))
            .await
            .expect("get")
            .is_some()
    );
    let page = b.table().query(Query::partition(&pk)).await.expect("query");
    assert_eq!(sks(&page.items), ["B", "C"]);
}

pub async fn get_many_reads_items_in_the_order_asked<B: ContractBackend>(b: &B) {
    let pk = unique("BATCH#");
    // 130 present (more than one request's 100), one expired, and gaps.
    let mut items: Vec<Item> = (0..130)
        .map(|i| item(&pk, &format!("{i:03}")).with("n", Value::n(i)))
        .collect();
    items.push(item(&pk, "gone").with(EXPIRES_AT, Value::n(now_secs() - 60)));
    put_all(b, items).await;
    let mut keys: Vec<Key> = (0..130)
        .rev()
        .map(|i| Key::new(&pk, format!("{i:03}")))
        .collect();
    keys.insert(5, Key::new(&pk, "missing"));
    keys.insert(50, Key::new(&pk, "gone"));
    // The same key twice answers twice.
    keys.push(Key::new(&pk, "007"));
    let got = b.table().get_many(&keys).await.expect("get_many");
    assert_eq!(got.len(), keys.len());
    for (key, found) in keys.iter().zip(&got) {
        match key.sk.as_str() {
            "missing" | "gone" => assert!(found.is_none(), "{key:?} reads as absent"),
            sk => {
                let found = found.as_ref().unwrap_or_else(|| panic!("{key:?} missing"));
                assert_eq!(found.s("sk"), Some(sk));
            }
        }
    }
    assert!(b.table().get_many(&[]).await.expect("nothing").is_empty());
}

async fn receive_one<B: ContractBackend>(
    b: &B,
    queue: &str,
    wait: Duration,
) -> Option<ReceivedMessage> {
    let options = ReceiveOptions {
        max_messages: 1,
        wait,
        visibility: None,
    };
    b.queue()
        .receive(queue, options)
        .await
        .expect("receive")
        .into_iter()
        .next()
}

pub async fn queue_delay_hides_a_message_until_due<B: ContractBackend>(b: &B) {
    let q = unique("deadline-");
    b.create_queue(&q, Duration::from_secs(30), None).await;
    let started = Instant::now();
    b.queue()
        .send(
            &q,
            OutgoingMessage::new("ack-deadline alert-1").delayed(Duration::from_secs(2)),
        )
        .await
        .expect("send");
    assert!(
        receive_one(b, &q, Duration::ZERO).await.is_none(),
        "a delayed message is not visible at once"
    );
    let m = receive_one(b, &q, Duration::from_secs(5))
        .await
        .expect("delivered once due");
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "delivered after {:?}",
        started.elapsed()
    );
    assert_eq!(m.body, "ack-deadline alert-1");
    assert_eq!(m.receive_count, 1);
}

pub async fn visibility_timeout_and_redelivery<B: ContractBackend>(b: &B) {
    let q = unique("webhook-");
    b.create_queue(&q, Duration::from_secs(1), None).await;
    b.queue()
        .send(
            &q,
            OutgoingMessage::new("deliver alert-2").attribute("hospital_id", "knh"),
        )
        .await
        .expect("send");
    let first = receive_one(b, &q, Duration::from_secs(2))
        .await
        .expect("first delivery");
    assert_eq!(first.receive_count, 1);
    assert_eq!(
        first.attributes.get("hospital_id").map(String::as_str),
        Some("knh")
    );
    assert!(
        receive_one(b, &q, Duration::ZERO).await.is_none(),
        "in flight: invisible"
    );
    // Not deleted: after the visibility timeout it comes back.
    let second = receive_one(b, &q, Duration::from_secs(5))
        .await
        .expect("redelivered");
    assert_eq!(second.message_id, first.message_id);
    assert_eq!(second.receive_count, 2);
    b.queue()
        .delete(&q, &second.receipt_handle)
        .await
        .expect("delete");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        receive_one(b, &q, Duration::ZERO).await.is_none(),
        "a deleted message never returns"
    );
}

pub async fn change_visibility_releases_a_message_early<B: ContractBackend>(b: &B) {
    let q = unique("sms-");
    b.create_queue(&q, Duration::from_secs(60), None).await;
    b.queue()
        .send(&q, OutgoingMessage::new("sms alert-3"))
        .await
        .expect("send");
    let first = receive_one(b, &q, Duration::from_secs(2))
        .await
        .expect("delivered");
    assert!(receive_one(b, &q, Duration::ZERO).await.is_none());
    b.queue()
        .change_visibility(&q, &first.receipt_handle, Duration::ZERO)
        .await
        .expect("release");
    let again = receive_one(b, &q, Duration::from_secs(2))
        .await
        .expect("visible again at once");
    assert_eq!(again.message_id, first.message_id);
}

pub async fn dead_letter_after_n_receives<B: ContractBackend>(b: &B) {
    let dlq = unique("dlq-");
    let q = unique("hospital-api-");
    b.create_queue(&dlq, Duration::from_secs(30), None).await;
    b.create_queue(&q, Duration::from_secs(30), Some((&dlq, 2)))
        .await;
    b.queue()
        .send(&q, OutgoingMessage::new("poison"))
        .await
        .expect("send");
    for attempt in 1..=2 {
        let m = receive_one(b, &q, Duration::from_secs(2))
            .await
            .expect("delivered while under the limit");
        assert_eq!(m.receive_count, attempt);
        b.queue()
            .change_visibility(&q, &m.receipt_handle, Duration::ZERO)
            .await
            .expect("fail it");
    }
    assert!(
        receive_one(b, &q, Duration::from_secs(1)).await.is_none(),
        "no third delivery"
    );
    let dead = receive_one(b, &dlq, Duration::from_secs(3))
        .await
        .expect("in the dead-letter queue");
    assert_eq!(dead.body, "poison");
}

pub async fn queue_depth_counts_visible_in_flight_and_delayed<B: ContractBackend>(b: &B) {
    let q = unique("depth-");
    b.create_queue(&q, Duration::from_secs(60), None).await;
    for body in ["a", "b"] {
        b.queue()
            .send(&q, OutgoingMessage::new(body))
            .await
            .expect("send");
    }
    b.queue()
        .send(
            &q,
            OutgoingMessage::new("later").delayed(Duration::from_secs(60)),
        )
        .await
        .expect("send");
    receive_one(b, &q, Duration::from_secs(1))
        .await
        .expect("one in flight");
    let depth = b.queue().depth(&q).await.expect("depth");
    assert_eq!((depth.visible, depth.in_flight, depth.delayed), (1, 1, 1));
}

pub async fn unknown_queue_and_topic_are_reported<B: ContractBackend>(b: &B) {
    let missing = unique("missing-");
    assert!(matches!(
        b.queue().send(&missing, OutgoingMessage::new("x")).await,
        Err(QueueError::UnknownQueue(_))
    ));
    assert!(matches!(
        b.queue().depth(&missing).await,
        Err(QueueError::UnknownQueue(_))
    ));
    let q = unique("limits-");
    b.create_queue(&q, Duration::from_secs(30), None).await;
    let too_late = OutgoingMessage::new("x").delayed(Duration::from_secs(16 * 60));
    assert!(matches!(
        b.queue().send(&q, too_late).await,
        Err(QueueError::Invalid(_))
    ));
    let greedy = ReceiveOptions {
        max_messages: 11,
        ..Default::default()
    };
    assert!(matches!(
        b.queue().receive(&q, greedy).await,
        Err(QueueError::Invalid(_))
    ));
}

pub async fn topic_fans_out_to_queues_by_filter_policy<B: ContractBackend>(b: &B) {
    let topic = unique("alerts-");
    let webhook = unique("webhook-");
    let sms = unique("sms-");
    let everything = unique("audit-");
    b.create_topic(&topic).await;
    for q in [&webhook, &sms, &everything] {
        b.create_queue(q, Duration::from_secs(30), None).await;
    }
    b.subscribe(&topic, &webhook, r#"{"channels":["webhook"]}"#)
        .await;
    b.subscribe(
        &topic,
        &sms,
        r#"{"channels":["sms"],"priority":[{"anything-but":["medium"]}]}"#,
    )
    .await;
    b.subscribe(&topic, &everything, "").await;
    let attrs = |channels: &str, priority: &str| -> BTreeMap<String, String> {
        BTreeMap::from([
            ("channels".to_owned(), channels.to_owned()),
            ("priority".to_owned(), priority.to_owned()),
        ])
    };
    b.publisher()
        .publish(
            &topic,
            r#"{"alert_id":"a1"}"#,
            &attrs(r#"["webhook","sms"]"#, "critical"),
        )
        .await
        .expect("publish a1");
    b.publisher()
        .publish(
            &topic,
            r#"{"alert_id":"a2"}"#,
            &attrs(r#"["sms"]"#, "medium"),
        )
        .await
        .expect("publish a2");
    let drain = |q: String| async move {
        let mut bodies = Vec::new();
        for _ in 0..3 {
            let got = b
                .queue()
                .receive(
                    &q,
                    ReceiveOptions {
                        max_messages: 10,
                        wait: Duration::from_secs(1),
                        visibility: None,
                    },
                )
                .await
                .expect("receive");
            for m in got {
                bodies.push(m.body.clone());
                b.queue()
                    .delete(&q, &m.receipt_handle)
                    .await
                    .expect("delete");
            }
        }
        bodies.sort();
        bodies
    };
    assert_eq!(
        drain(webhook).await,
        [r#"{"alert_id":"a1"}"#],
        "raw delivery, filtered by channel"
    );
    assert_eq!(
        drain(sms).await,
        [r#"{"alert_id":"a1"}"#],
        "medium priority filtered out"
    );
    assert_eq!(drain(everything).await.len(), 2, "no policy: every message");
}

pub async fn sms_to_an_invalid_number_is_refused<B: ContractBackend>(b: &B) {
    assert!(matches!(
        b.publisher().send_sms("0712 345 678", "test").await,
        Err(PublishError::Invalid(_))
    ));
    let id = b
        .publisher()
        .send_sms(
            "+254712345678",
            "Haven: alert a1 needs ACK. Reply code 4821",
        )
        .await
        .expect("sms");
    assert!(!id.is_empty());
    let missing = unique("missing-topic-");
    let r = b.publisher().publish(&missing, "x", &BTreeMap::new()).await;
    // Publishing creates nothing: an unknown topic is an error, never a silent drop.
    assert!(matches!(r, Err(PublishError::UnknownTopic(_))), "{r:?}");
}

pub async fn data_key_round_trip<B: ContractBackend>(b: &B) {
    let context = EncryptionContext::new()
        .with("owner", &unique("user-"))
        .with("kind", "medical-profile")
        .with("schema", "1");
    let key = b
        .key_ring()
        .generate_data_key(&context)
        .await
        .expect("data key");
    assert!(!key.wrapped.is_empty());
    assert_ne!(
        &key.wrapped[..],
        &key.plaintext[..],
        "the stored form is not the key"
    );
    let unwrapped = b
        .key_ring()
        .decrypt_data_key(&key.wrapped, &context)
        .await
        .expect("unwrap");
    assert_eq!(*unwrapped, *key.plaintext);
    let other = b
        .key_ring()
        .generate_data_key(&context)
        .await
        .expect("second key");
    assert_ne!(
        *other.plaintext, *key.plaintext,
        "every record gets its own key"
    );
}

pub async fn decryption_is_refused_under_another_context<B: ContractBackend>(b: &B) {
    let owner = unique("user-");
    let context = EncryptionContext::new()
        .with("owner", &owner)
        .with("kind", "medical-profile");
    let key = b
        .key_ring()
        .generate_data_key(&context)
        .await
        .expect("data key");
    let someone_else = EncryptionContext::new()
        .with("owner", &unique("user-"))
        .with("kind", "medical-profile");
    assert_eq!(
        b.key_ring()
            .decrypt_data_key(&key.wrapped, &someone_else)
            .await
            .expect_err("other owner"),
        KeyRingError::Refused
    );
    let fewer = EncryptionContext::new().with("owner", &owner);
    assert_eq!(
        b.key_ring()
            .decrypt_data_key(&key.wrapped, &fewer)
            .await
            .expect_err("partial context"),
        KeyRingError::Refused
    );
    let mut tampered = key.wrapped.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    assert_eq!(
        b.key_ring()
            .decrypt_data_key(&tampered, &context)
            .await
            .expect_err("tampered"),
        KeyRingError::Refused
    );
}

/// Bytes of every value, in an order no compression or text encoding keeps.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

pub async fn blobs_round_trip_and_are_written_once<B: ContractBackend>(b: &B) {
    let key = format!("documents/{}/p/d", unique("h"));
    assert_eq!(b.blobs().get(&key).await.expect("get"), None);
    let bytes = noise(3 * 1024 * 1024 + 17, 7);
    b.blobs()
        .put(&key, "application/pdf", &bytes)
        .await
        .expect("put");
    assert_eq!(
        b.blobs().get(&key).await.expect("get").as_deref(),
        Some(&bytes[..]),
        "byte-identical"
    );
    assert_eq!(
        b.blobs().put(&key, "application/pdf", b"other").await,
        Err(BlobError::Exists),
        "a blob is written once"
    );
    assert_eq!(
        b.blobs().get(&key).await.expect("get").map(|v| v.len()),
        Some(bytes.len()),
        "the first write stands"
    );
    b.blobs().delete(&key).await.expect("delete");
    assert_eq!(b.blobs().get(&key).await.expect("get"), None);
    b.blobs()
        .delete(&key)
        .await
        .expect("deleting nothing is fine");
}

pub async fn blob_inspection_reads_the_size_and_the_first_bytes<B: ContractBackend>(b: &B) {
    let key = format!("documents/{}/p/d", unique("h"));
    assert_eq!(b.blobs().inspect(&key).await.expect("inspect"), None);
    for (n, len) in [(0u64, 10usize), (1, HEAD_BYTES), (2, 100_000)] {
        let key = format!("{key}{n}");
        let bytes = noise(len, n + 11);
        b.blobs().put(&key, "image/png", &bytes).await.expect("put");
        let seen = b
            .blobs()
            .inspect(&key)
            .await
            .expect("inspect")
            .expect("stored");
        assert_eq!(seen.size, len as u64, "{}", b.name());
        assert_eq!(seen.head, bytes[..len.min(HEAD_BYTES)].to_vec());
    }
}
