//! The sealed profile under attack and over time, on the embedded ports with a clock the
//! test moves: tampering and moved envelopes fail loudly, the break-glass window closes, and
//! the data-key cache saves unwraps.

use std::sync::Arc;
use std::time::Duration;

use haven_alerts::emergencies::lifecycle;
use haven_alerts::emergencies::trigger::{self, Reporter, TriggerRequest};
use haven_alerts::emergencies::view::Viewer;
use haven_alerts::hospitals::import;
use haven_alerts::medical::MedicalProfile;
use haven_alerts::medical::profile::{Allergy, Severity};
use haven_alerts::medical::records::{self, Reader};
use haven_edge::Caller;
use haven_kernel::item::Value;
use haven_kernel::ports::{Ports, Table};
use haven_kernel::{DomainError, ManualClock, RandomIds, Role, Timestamp};
use haven_platform::EmbeddedPorts;

fn ports() -> (EmbeddedPorts, ManualClock, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let clock = ManualClock::at(Timestamp::from_millis(1_795_000_000_000));
    let ports = EmbeddedPorts::open(
        dir.path().to_path_buf(),
        Arc::new(clock.clone()),
        Arc::new(RandomIds),
    )
    .expect("ports");
    (ports, clock, dir)
}

fn profile(substance: &str) -> MedicalProfile {
    MedicalProfile {
        blood_type: Some("B+".into()),
        allergies: vec![Allergy {
            substance: substance.into(),
            reaction: None,
            severity: Severity::Severe,
        }],
        ..Default::default()
    }
}

#[tokio::test]
async fn a_changed_byte_anywhere_in_the_envelope_is_refused() {
    let (ports, _clock, _dir) = ports();
    records::create(&ports, "alice", profile("latex"))
        .await
        .expect("create");
    let key = records::key("alice");
    let original = ports.table().get(&key).await.expect("get").expect("item");
    for attribute in ["profile_ct", "profile_nonce", "profile_key"] {
        let mut item = original.clone();
        let Some(Value::B(bytes)) = item.get(attribute).cloned() else {
            panic!("{attribute} is stored as bytes");
        };
        let mut tampered = bytes.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 0x01;
        item.set(attribute, Value::B(tampered));
        ports.table().put(item, None).await.expect("put");
        assert_eq!(
            records::read(&ports, "alice").await,
            Err(DomainError::Unreadable),
            "{attribute}"
        );
    }
    ports.table().put(original, None).await.expect("restore");
    assert_eq!(
        records::read(&ports, "alice")
            .await
            .expect("read")
            .profile
            .allergies[0]
            .substance,
        "latex"
    );
}

#[tokio::test]
async fn an_envelope_moved_onto_another_patient_never_opens() {
    let (ports, _clock, _dir) = ports();
    records::create(&ports, "alice", profile("latex"))
        .await
        .expect("alice");
    records::create(&ports, "bob", profile("pollen"))
        .await
        .expect("bob");
    let alice = ports
        .table()
        .get(&records::key("alice"))
        .await
        .expect("get")
        .expect("item");
    let mut bob = ports
        .table()
        .get(&records::key("bob"))
        .await
        .expect("get")
        .expect("item");
    for attribute in ["profile_v", "profile_key", "profile_nonce", "profile_ct"] {
        bob.set(attribute, alice.get(attribute).expect("attribute").clone());
    }
    ports.table().put(bob, None).await.expect("put");
    let read = records::read(&ports, "bob").await;
    assert_eq!(read, Err(DomainError::Unreadable), "never Alice's data");
    // Through the handler it is a clear problem, not a 200 and not a crash.
    let claims = haven_identity_core::tokens::Claims {
        iss: "haven".into(),
        aud: "haven".into(),
        sub: "bob".into(),
        exp: 1_795_000_900,
        iat: 1_795_000_000,
        jti: "j".into(),
        kind: haven_identity_core::tokens::TokenKind::Access,
        role: Role::Patient,
        hospital_id: None,
        fam: None,
        alert_id: None,
    };
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/medical-profile-get.json"
    ))
    .expect("event");
    let req = lambda_http::request::from_str(&text).expect("event");
    let problem = crate::get(&ports, Caller::Signed(claims), req)
        .await
        .expect_err("refused")
        .into_response(None);
    assert_eq!(problem.status(), 500);
    let body = match problem.body() {
        lambda_http::Body::Text(t) => t.clone(),
        other => panic!("{other:?}"),
    };
    assert!(body.contains("/problems/record-unreadable"), "{body}");
    assert!(!body.contains("latex"));
}

#[tokio::test]
async fn the_break_glass_window_closes_an_hour_after_the_alert_ends() {
    let (ports, clock, _dir) = ports();
    let hospitals = import::parse_json(
        r#"[{"hospital_id": "knh", "name": "Kenyatta National Hospital", "latitude": -1.3009, "longitude": 36.8073, "level": 6, "specialties": ["emergency"], "beds_total": 100, "beds_available": 10, "ed_status": "open"}]"#
            .as_bytes(),
    )
    .expect("json");
    import::import(&ports, hospitals.hospitals, false)
        .await
        .expect("import");
    records::create(&ports, "alice", profile("latex"))
        .await
        .expect("profile");
    let alert = trigger::trigger(
        &ports,
        &Reporter {
            user_id: "alice".into(),
            bypass: None,
        },
        TriggerRequest {
            latitude: -1.29,
            longitude: 36.82,
            accuracy_m: None,
            emergency_type: "trauma".into(),
            note: None,
            symptoms: vec![],
            vitals: None,
        },
        None,
    )
    .await
    .expect("alert");
    let id = alert.alert.alert_id;
    let nurse = Reader {
        user_id: "nurse-1".into(),
        role: Role::Nurse,
        hospital_id: Some("knh".into()),
    };
    records::break_glass(&ports, &nurse, &id)
        .await
        .expect("open alert");
    let owner = Viewer {
        user_id: "alice".into(),
        role: Role::Patient,
        hospital_id: None,
        bypass_jti: None,
    };
    lifecycle::cancel(&ports, &owner, &id, None)
        .await
        .expect("cancel");
    clock.advance(Duration::from_secs(59 * 60));
    records::break_glass(&ports, &nurse, &id)
        .await
        .expect("within the window");
    clock.advance(Duration::from_secs(2 * 60));
    assert_eq!(
        records::break_glass(&ports, &nurse, &id).await,
        Err(DomainError::Forbidden)
    );
    let log = records::access_log(&ports, "alice", 50, None)
        .await
        .expect("log");
    let last = &log.entries[0];
    assert_eq!(
        (last.action.as_str(), last.outcome.as_str()),
        ("medical.break_glass", "refused")
    );
    assert!(
        last.detail.as_deref().expect("detail").contains("window"),
        "{last:?}"
    );
    assert_eq!(last.actor.as_deref(), Some("nurse-1"));
}

#[tokio::test]
async fn repeated_reads_unwrap_the_data_key_once() {
    let (ports, _clock, _dir) = ports();
    records::create(&ports, "alice", profile("latex"))
        .await
        .expect("create");
    let before = ports.key_ring().calls();
    for _ in 0..5 {
        records::read(&ports, "alice").await.expect("read");
    }
    let after = ports.key_ring().calls();
    assert_eq!(
        after.decrypt - before.decrypt,
        0,
        "create's read cached the key"
    );
    assert_eq!(after.cache_hits - before.cache_hits, 5);
}
