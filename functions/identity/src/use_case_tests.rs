//! Identity use cases where time or the SMS outbox matter: run on the embedded ports with a
//! clock the test moves, and the sample events from events/.

use std::sync::Arc;
use std::time::Duration;

use haven_identity_core::accounts::{self, NewAccount};
use haven_identity_core::sessions::{
    self, BypassOutcome, BypassRequest, Credentials, LoginOutcome, MfaAnswer, MfaMethod,
};
use haven_identity_core::{keys, tokens};
use haven_kernel::{Clock, DomainError, ManualClock, RandomIds, Timestamp, TokenRejection};
use haven_platform::EmbeddedPorts;

const PASSWORD: &str = "amber falcon river quartz 42";

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

fn patient(email: &str, phone: Option<&str>) -> NewAccount {
    NewAccount {
        email: email.into(),
        password: PASSWORD.into(),
        full_name: "Achieng Otieno".into(),
        phone: phone.map(str::to_owned),
        role: None,
        hospital_id: None,
    }
}

fn last_sms_code(ports: &EmbeddedPorts) -> String {
    let outbox = ports.backend.publisher.sms_outbox().expect("outbox");
    let text = &outbox.last().expect("an SMS was sent").text;
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("a 6-digit code")
        .to_owned()
}

async fn pair(ports: &EmbeddedPorts, email: &str) -> sessions::TokenPair {
    match sessions::login(
        ports,
        Credentials {
            email: email.into(),
            password: PASSWORD.into(),
        },
    )
    .await
    .expect("login")
    {
        LoginOutcome::Tokens(p) => p,
        other => panic!("expected tokens, got {other:?}"),
    }
}

#[tokio::test]
async fn access_tokens_expire_after_fifteen_minutes() {
    let (ports, clock, _dir) = ports();
    accounts::register(&ports, patient("a@example.org", None))
        .await
        .expect("register");
    let tokens = pair(&ports, "a@example.org").await;
    sessions::authenticate(&ports, &tokens.access_token, false)
        .await
        .expect("fresh token");
    // Within the 30 s leeway past expiry the token still works; after it, it has expired
    // (and says so, rather than looking like garbage).
    clock.advance(Duration::from_secs(15 * 60 + 29));
    sessions::authenticate(&ports, &tokens.access_token, false)
        .await
        .expect("within the leeway");
    clock.advance(Duration::from_secs(2));
    assert_eq!(
        sessions::authenticate(&ports, &tokens.access_token, false).await,
        Err(DomainError::TokenRejected(TokenRejection::Expired))
    );
    assert_eq!(
        sessions::authenticate(&ports, "not.a.token", false).await,
        Err(DomainError::TokenRejected(TokenRejection::Invalid))
    );
    // The refresh token still works for a week.
    sessions::refresh(&ports, &tokens.refresh_token)
        .await
        .expect("refresh");
    clock.advance(Duration::from_secs(8 * 24 * 3600));
    let again = sessions::refresh(&ports, &tokens.refresh_token).await;
    assert_eq!(again, Err(DomainError::Unauthenticated));
}

#[tokio::test]
async fn a_retired_key_verifies_until_its_tokens_expire_then_leaves_the_jwks() {
    let (ports, clock, _dir) = ports();
    accounts::register(&ports, patient("k@example.org", None))
        .await
        .expect("register");
    let old = pair(&ports, "k@example.org").await.access_token;
    let old_kid = keys::signing_key(&ports).await.expect("key").kid.clone();
    let new_kid = keys::rotate(&ports).await.expect("rotate");
    assert_ne!(old_kid, new_kid);
    let new = pair(&ports, "k@example.org").await.access_token;
    sessions::authenticate(&ports, &old, false)
        .await
        .expect("old token still good");
    sessions::authenticate(&ports, &new, false)
        .await
        .expect("new token good");
    let kids = |ks: Vec<tokens::VerifyingKey>| ks.into_iter().map(|k| k.kid).collect::<Vec<_>>();
    assert_eq!(
        kids(keys::verifying_keys(&ports, true).await.expect("keys")).len(),
        2
    );
    // Once every token of the old key has expired, the old key is gone from the set.
    clock.advance(Duration::from_secs(60 * 60));
    assert_eq!(
        kids(keys::verifying_keys(&ports, true).await.expect("keys")),
        vec![new_kid]
    );
}

#[tokio::test]
async fn the_signing_key_is_stored_sealed() {
    let (ports, _clock, dir) = ports();
    let key = keys::signing_key(&ports).await.expect("key");
    let raw = std::fs::read(dir.path().join("haven.sqlite3")).expect("db");
    let wal = std::fs::read(dir.path().join("haven.sqlite3-wal")).unwrap_or_default();
    for bytes in [&raw, &wal] {
        assert!(
            !bytes
                .windows(32)
                .any(|w| w == &key.pkcs8()[key.pkcs8().len() - 32..]),
            "no private key bytes in the table"
        );
    }
}

#[tokio::test]
async fn at_most_one_hundred_password_checks_per_account_per_hour() {
    let (ports, clock, _dir) = ports();
    accounts::register(&ports, patient("t@example.org", None))
        .await
        .expect("register");
    let wrong = || Credentials {
        email: "t@example.org".into(),
        password: "not the password".into(),
    };
    let mut evaluated = 0;
    let mut delays = Vec::new();
    let hour_start = clock.now();
    while clock.now().since(hour_start) < Duration::from_secs(3600) - Duration::from_secs(60) {
        match sessions::login(&ports, wrong()).await {
            Err(DomainError::Unauthenticated) => evaluated += 1,
            Err(DomainError::TooManyRequests {
                retry_after_seconds,
            }) => {
                delays.push(retry_after_seconds);
                clock.advance(Duration::from_secs(retry_after_seconds));
                continue;
            }
            other => panic!("{other:?}"),
        }
        clock.advance(Duration::from_millis(10));
    }
    assert!(evaluated <= 100, "{evaluated} evaluations in an hour");
    assert!(evaluated >= 5);
    assert!(
        delays.windows(2).take(5).all(|w| w[1] >= w[0]),
        "delays grow: {delays:?}"
    );
    assert!(delays.iter().all(|d| *d <= 15 * 60));
}

#[tokio::test]
async fn sms_mfa_sends_a_single_use_attempt_limited_code() {
    let (ports, _clock, _dir) = ports();
    let created = accounts::register(&ports, patient("s@example.org", Some("+254711000003")))
        .await
        .expect("register");
    sessions::enable_mfa(&ports, &created.user_id, MfaMethod::Sms)
        .await
        .expect("enable");
    let code = last_sms_code(&ports);
    sessions::confirm_mfa(&ports, &created.user_id, &code)
        .await
        .expect("confirm");
    let outcome = sessions::login(
        &ports,
        Credentials {
            email: "s@example.org".into(),
            password: PASSWORD.into(),
        },
    )
    .await
    .expect("login");
    let LoginOutcome::MfaRequired { mfa_token, .. } = outcome else {
        panic!("MFA expected")
    };
    let code = last_sms_code(&ports);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let err = sessions::verify_mfa(
        &ports,
        MfaAnswer {
            mfa_token: mfa_token.clone(),
            code: wrong.into(),
        },
    )
    .await;
    assert_eq!(err, Err(DomainError::Unauthenticated));
    sessions::verify_mfa(
        &ports,
        MfaAnswer {
            mfa_token: mfa_token.clone(),
            code: code.clone(),
        },
    )
    .await
    .expect("right code");
    let again = sessions::verify_mfa(&ports, MfaAnswer { mfa_token, code }).await;
    assert!(again.is_err(), "a code and a challenge work once");
}

#[tokio::test]
async fn phone_bypass_needs_the_texted_code_and_is_audited() {
    let (ports, _clock, _dir) = ports();
    accounts::register(&ports, patient("b@example.org", Some("+254711000004")))
        .await
        .expect("register");
    let ask = BypassRequest {
        emergency_credential: None,
        phone_number: Some("+254711000004".into()),
        code: None,
    };
    assert_eq!(
        sessions::emergency_bypass(&ports, ask)
            .await
            .expect("code sent"),
        BypassOutcome::CodeSent { code_sent: true }
    );
    let code = last_sms_code(&ports);
    for attempt in 0..5 {
        let wrong = BypassRequest {
            emergency_credential: None,
            phone_number: Some("+254711000004".into()),
            code: Some(format!(
                "{:06}",
                (code.parse::<u32>().expect("n") + 1 + attempt) % 1_000_000
            )),
        };
        assert!(sessions::emergency_bypass(&ports, wrong).await.is_err());
    }
    let right = BypassRequest {
        emergency_credential: None,
        phone_number: Some("+254711000004".into()),
        code: Some(code),
    };
    assert!(
        matches!(
            sessions::emergency_bypass(&ports, right).await,
            Err(DomainError::TooManyRequests { .. })
        ),
        "five wrong codes use the code up"
    );
    let sent = ports.backend.publisher.sms_outbox().expect("outbox").len();
    let unknown = BypassRequest {
        emergency_credential: None,
        phone_number: Some("+254799999998".into()),
        code: None,
    };
    sessions::emergency_bypass(&ports, unknown)
        .await
        .expect("same answer");
    assert_eq!(
        ports.backend.publisher.sms_outbox().expect("outbox").len(),
        sent,
        "no SMS to unknown numbers"
    );
}

#[tokio::test]
async fn hospital_admins_manage_only_their_own_staff() {
    let (ports, _clock, _dir) = ports();
    // Staff belong to hospitals that exist.
    let hospitals = haven_alerts::hospitals::import::parse_json(
        r#"[{"hospital_id":"hosp-a","name":"A","latitude":-1.3,"longitude":36.8,"level":4,"ed_status":"open"},
            {"hospital_id":"hosp-b","name":"B","latitude":-1.3,"longitude":36.8,"level":4,"ed_status":"open"}]"#
            .as_bytes(),
    )
    .expect("hospitals");
    haven_alerts::hospitals::import::import(&ports, hospitals.hospitals, false)
        .await
        .expect("import");
    let root = accounts::bootstrap_admin(&ports, "root@example.org", PASSWORD)
        .await
        .expect("bootstrap")
        .expect("created");
    let system = accounts::Admin {
        user_id: root,
        role: haven_kernel::Role::SystemAdmin,
        hospital_id: None,
    };
    let staff = |email: &str, role: &str, hospital: Option<&str>| NewAccount {
        email: email.into(),
        password: PASSWORD.into(),
        full_name: "Staff".into(),
        phone: None,
        role: serde_json::from_value(serde_json::json!(role)).ok(),
        hospital_id: hospital.map(str::to_owned),
    };
    let a_admin = accounts::create_user(
        &ports,
        &system,
        staff("ha@example.org", "hospital_admin", Some("hosp-a")),
    )
    .await
    .expect("admin a");
    let b_nurse = accounts::create_user(
        &ports,
        &system,
        staff("nb@example.org", "nurse", Some("hosp-b")),
    )
    .await
    .expect("nurse b");
    let a = accounts::Admin {
        user_id: a_admin.user_id,
        role: haven_kernel::Role::HospitalAdmin,
        hospital_id: Some("hosp-a".into()),
    };
    let a_nurse = accounts::create_user(&ports, &a, staff("na@example.org", "nurse", None))
        .await
        .expect("nurse of own hospital");
    assert!(
        accounts::managed_user(&ports, &a, &a_nurse.user_id)
            .await
            .is_ok()
    );
    assert_eq!(
        accounts::managed_user(&ports, &a, &b_nurse.user_id)
            .await
            .err(),
        Some(DomainError::NotFound("user".into()))
    );
    assert_eq!(
        accounts::create_user(&ports, &a, staff("x@example.org", "dispatcher", None))
            .await
            .err(),
        Some(DomainError::Forbidden)
    );
    assert_eq!(
        accounts::create_user(&ports, &a, staff("y@example.org", "system_admin", None))
            .await
            .err(),
        Some(DomainError::Forbidden)
    );
    let listed = accounts::list_users(&ports, &a, 50, None)
        .await
        .expect("list");
    assert!(
        listed
            .users
            .iter()
            .all(|u| u.hospital_id.as_deref() == Some("hosp-a"))
    );
    assert_eq!(listed.users.len(), 2);
    // Staff without a hospital, and patients with one, are refused.
    assert_eq!(
        accounts::create_user(&ports, &system, staff("z@example.org", "doctor", None))
            .await
            .err()
            .and_then(|e| e.field().map(str::to_owned)),
        Some("hospital_id".into())
    );
}

#[tokio::test]
async fn deleting_an_account_erases_its_lookups_and_ends_its_sessions() {
    use haven_kernel::ports::{Ports, Table};
    let (ports, _clock, _dir) = ports();
    let root = accounts::bootstrap_admin(&ports, "root@example.org", PASSWORD)
        .await
        .expect("bootstrap")
        .expect("created");
    let system = accounts::Admin {
        user_id: root,
        role: haven_kernel::Role::SystemAdmin,
        hospital_id: None,
    };
    let created = accounts::register(&ports, patient("gone@example.org", Some("+254711000009")))
        .await
        .expect("register");
    let credential = created
        .emergency_credential
        .clone()
        .expect("patients get a credential");
    let session = pair(&ports, "gone@example.org").await;

    accounts::delete_user(&ports, &system, &created.user_id)
        .await
        .expect("delete");

    let keys = haven_identity_core::lookups::load(&ports)
        .await
        .expect("lookups");
    for key in [
        keys.email_key("gone@example.org"),
        keys.phone_key("+254711000009"),
        accounts::emergency_credential_key(&credential),
        accounts::User::key(&created.user_id),
    ] {
        assert_eq!(
            ports.table().get(&key).await.expect("get"),
            None,
            "{} left behind",
            key.pk
        );
    }
    let bypass = BypassRequest {
        emergency_credential: Some(credential),
        phone_number: None,
        code: None,
    };
    assert_eq!(
        sessions::emergency_bypass(&ports, bypass).await,
        Err(DomainError::Unauthenticated)
    );
    assert_eq!(
        sessions::authenticate(&ports, &session.access_token, false).await,
        Err(DomainError::TokenRejected(TokenRejection::SessionEnded))
    );
    // The email is free again.
    accounts::register(&ports, patient("gone@example.org", Some("+254711000009")))
        .await
        .expect("register again");
}

/// An account made before the keyed lookups (its lookups under a plain SHA-256) still signs
/// in and is found by phone; its lookups move to the keyed form; its email and phone stay
/// taken for new accounts.
#[tokio::test]
async fn accounts_with_old_plain_hash_lookups_are_found_moved_and_stay_unique() {
    use haven_identity_core::lookups;
    use haven_kernel::ports::{Ports, Table};
    let (ports, _clock, _dir) = ports();
    let created = accounts::register(&ports, patient("old@example.org", Some("+254711000077")))
        .await
        .expect("register");
    // Turn it into an old account: the keyed lookups become plain-hash ones.
    let keys = lookups::load(&ports).await.expect("lookups");
    for (keyed, legacy) in [
        (
            keys.email_key("old@example.org"),
            lookups::legacy_email_key("old@example.org"),
        ),
        (
            keys.phone_key("+254711000077"),
            lookups::legacy_phone_key("+254711000077"),
        ),
    ] {
        let item = ports
            .table()
            .delete(&keyed, None)
            .await
            .expect("delete")
            .expect("a keyed lookup was written");
        let mut old = haven_kernel::Item::new(&legacy);
        old.set("user_id", item.get("user_id").cloned().expect("user_id"));
        ports.table().put(old, None).await.expect("legacy");
    }
    for (email, phone) in [
        ("OLD@example.org ", "+254711000099"),
        ("new@example.org", "+254711000077"),
    ] {
        let refused = accounts::register(&ports, patient(email, Some(phone))).await;
        assert!(
            matches!(refused, Err(haven_kernel::DomainError::Conflict { .. })),
            "{email} {phone}: {refused:?}"
        );
    }
    let found = accounts::find_by_phone(&ports, "+254711000077")
        .await
        .expect("find")
        .expect("found through the old lookup");
    assert_eq!(found.user_id, created.user_id);
    pair(&ports, "old@example.org").await;
    for (keyed, legacy) in [
        (
            keys.email_key("old@example.org"),
            lookups::legacy_email_key("old@example.org"),
        ),
        (
            keys.phone_key("+254711000077"),
            lookups::legacy_phone_key("+254711000077"),
        ),
    ] {
        assert!(
            ports.table().get(&keyed).await.expect("get").is_some(),
            "moved"
        );
        assert_eq!(
            ports.table().get(&legacy).await.expect("get"),
            None,
            "and gone"
        );
    }
}
