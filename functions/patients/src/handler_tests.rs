//! The patients handlers on the sample events of `events/`, on the embedded backend: the
//! whole register through its handlers, the role matrix, field errors that write nothing,
//! racing creates, and no plaintext in the database files.

use haven_edge::Caller;
use haven_edge::testing::{answer as status, sample_event as request, signed as caller};
use haven_kernel::item::{Item, Value};
use haven_kernel::ports::{Ports, Table};
use haven_kernel::{Role, refs};
use haven_patients_core::mrn::Mrn;
use haven_platform::EmbeddedPorts;

const KNH: &str = "demo-knh";
const MTRH: &str = "demo-mtrh";

async fn ports() -> (EmbeddedPorts, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let ports = EmbeddedPorts::in_dir(dir.path().to_path_buf()).expect("ports");
    for (id, name) in [
        (KNH, "Kenyatta National Hospital"),
        (MTRH, "Moi Teaching and Referral Hospital"),
    ] {
        let item = Item::new(&refs::hospital_profile(id)).with(refs::HOSPITAL_NAME, Value::s(name));
        ports.table().put(item, None).await.expect("hospital");
    }
    (ports, dir)
}

fn nurse() -> Caller {
    caller(Role::Nurse, Some(KNH))
}

fn sample(name: &str) -> lambda_http::Request {
    request(name, |_| {})
}

/// The sample event aimed at patient `id`.
fn at(name: &str, id: &str) -> lambda_http::Request {
    request(name, |e| {
        e["pathParameters"]["patient_id"] = id.into();
    })
}

fn with_body(name: &str, body: serde_json::Value) -> lambda_http::Request {
    request(name, |e| e["body"] = body.to_string().into())
}

fn with_query(name: &str, query: &[(&str, &str)]) -> lambda_http::Request {
    request(name, |e| set_query(e, query))
}

/// Puts `query` into an HTTP API event, in both the forms API Gateway gives it.
fn set_query(e: &mut serde_json::Value, query: &[(&str, &str)]) {
    e["rawQueryString"] = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(query)
        .finish()
        .into();
    e["queryStringParameters"] = query
        .iter()
        .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
        .collect::<serde_json::Map<_, _>>()
        .into();
}

fn sample_body() -> serde_json::Value {
    let event: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/../../events/patients-create.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("event"),
    )
    .expect("json");
    serde_json::from_str(event["body"].as_str().expect("body")).expect("body json")
}

async fn create<P: Ports>(
    ports: &P,
    who: Caller,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    status(crate::create(ports, who, with_body("patients-create", body)).await)
}

async fn search<P: Ports>(ports: &P, who: Caller, q: &str) -> (u16, serde_json::Value) {
    status(crate::search(ports, who, with_query("patients-search", &[("q", q)])).await)
}

fn found_ids(page: &serde_json::Value) -> Vec<String> {
    page["results"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|p| p["id"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn the_register_through_its_sample_events() {
    let (ports, _dir) = ports().await;
    let (code, created) = status(crate::create(&ports, nurse(), sample("patients-create")).await);
    assert_eq!(code, 201, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();
    let mrn = created["mrn"].as_str().expect("mrn");
    assert_eq!(mrn, Mrn::new("KNH", 1).to_string());
    assert!(Mrn::parse(mrn).is_ok());
    assert_eq!(created["phone"], "+254712345678");
    assert_eq!(created["version"], 1);

    let (code, read) = status(crate::get(&ports, nurse(), at("patients-get", &id)).await);
    assert_eq!(code, 200, "{read}");
    assert_eq!(read["given_name"], "Wanjiru");

    // The sample update carries If-Match "1"; a second use of it is stale.
    let (code, updated) = status(crate::update(&ports, nurse(), at("patients-update", &id)).await);
    assert_eq!(code, 200, "{updated}");
    assert_eq!(updated["version"], 2);
    assert_eq!(updated["phone"], "+254733444555");
    assert_eq!(updated["mrn"], mrn);
    let (code, stale) = status(crate::update(&ports, nurse(), at("patients-update", &id)).await);
    assert_eq!(code, 412, "{stale}");
    let (code, _) = status(
        crate::update(
            &ports,
            nurse(),
            request("patients-update", |e| {
                e["pathParameters"]["patient_id"] = id.clone().into();
                e["headers"]
                    .as_object_mut()
                    .expect("headers")
                    .remove("if-match");
            }),
        )
        .await,
    );
    assert_eq!(code, 428);

    // Search: the old phone no longer finds it, the new one does, in any typed form.
    assert!(found_ids(&search(&ports, nurse(), "0712345678").await.1).is_empty());
    for q in ["0733 444 555", "733444555", "+254733444555"] {
        let (code, page) = search(&ports, nurse(), q).await;
        assert_eq!(code, 200, "{page}");
        assert_eq!(found_ids(&page), [id.as_str()], "{q}");
    }
    let (code, page) = status(crate::search(&ports, nurse(), sample("patients-search")).await);
    assert_eq!(code, 200);
    assert_eq!(found_ids(&page), [id.as_str()]);

    let (code, history) =
        status(crate::history(&ports, nurse(), at("patients-history", &id)).await);
    assert_eq!(code, 200, "{history}");
    let events: Vec<&str> = history["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["event"].as_str())
        .collect();
    assert_eq!(events, ["updated", "registered"]);

    // Delete: an admin's act, and then the record is gone from reads, lists and search.
    let (code, _) = status(crate::delete(&ports, nurse(), at("patients-delete", &id)).await);
    assert_eq!(code, 403);
    let admin = || caller(Role::HospitalAdmin, Some(KNH));
    let (code, deleted) = status(crate::delete(&ports, admin(), at("patients-delete", &id)).await);
    assert_eq!(code, 200, "{deleted}");
    assert_eq!(deleted["status"], "deleted");
    assert!(deleted["restorable_until"].is_string());
    let (code, _) = status(crate::get(&ports, nurse(), at("patients-get", &id)).await);
    assert_eq!(code, 404);
    assert!(found_ids(&search(&ports, nurse(), "wanjiru").await.1).is_empty());
    let (_, listed) = status(crate::list(&ports, nurse(), sample("patients-list")).await);
    assert_eq!(listed["patients"].as_array().map(Vec::len), Some(0));
    let (code, bin) = status(
        crate::list(
            &ports,
            admin(),
            with_query("patients-list", &[("status", "deleted")]),
        )
        .await,
    );
    assert_eq!(code, 200);
    assert_eq!(bin["patients"][0]["id"], id.as_str());

    let (code, _) = status(crate::restore(&ports, nurse(), at("patients-restore", &id)).await);
    assert_eq!(code, 403);
    let (code, restored) =
        status(crate::restore(&ports, admin(), at("patients-restore", &id)).await);
    assert_eq!(code, 200, "{restored}");
    assert_eq!(restored["status"], "active");
    assert_eq!(restored["mrn"], mrn);
    assert_eq!(
        found_ids(&search(&ports, nurse(), "wanjiru").await.1),
        [id.as_str()]
    );
    let (code, _) = status(crate::restore(&ports, admin(), at("patients-restore", &id)).await);
    assert_eq!(code, 409);
}

#[tokio::test]
async fn search_finds_what_staff_have_in_hand() {
    let (ports, _dir) = ports().await;
    let mut body = sample_body();
    body["given_name"] = "Wanjirũ".into();
    body["family_name"] = "Nyambura-Kamau".into();
    let (_, first) = create(&ports, nurse(), body).await;
    let id = first["id"].as_str().expect("id").to_owned();
    let mut other = sample_body();
    other["given_name"] = "Wanjiku".into();
    other["family_name"] = "Otieno".into();
    other["phone"] = "0700 000 001".into();
    other["email"] = serde_json::Value::Null;
    other["identifiers"] = serde_json::json!([{"type": "passport", "value": "AK0123456"}]);
    let (_, second) = create(&ports, nurse(), other).await;
    let second_id = second["id"].as_str().expect("id").to_owned();

    let mrn = first["mrn"].as_str().expect("mrn").to_owned();
    for q in [
        "wanjiru",
        "WANJIRU",
        "wanjir",
        "nyamb",
        "wanj kamau",
        "kamau wanjiru",
        "0712345678",
        "12345678",
        "wanjiru.kamau@example.co.ke",
        &mrn.to_lowercase(),
    ] {
        let (code, page) = search(&ports, nurse(), q).await;
        assert_eq!(code, 200, "{q}: {page}");
        assert_eq!(found_ids(&page), [id.as_str()], "{q}");
    }
    // A prefix both share finds both, and a whole name ranks first.
    let (_, page) = search(&ports, nurse(), "wanjiku").await;
    assert_eq!(found_ids(&page), [second_id.as_str()]);
    assert_eq!(page["results"][0]["match"], "exact");
    let (_, page) = search(&ports, nurse(), "wan").await;
    assert_eq!(found_ids(&page).len(), 2);
    let (_, page) = search(&ports, nurse(), "ak0123456").await;
    assert_eq!(found_ids(&page), [second_id.as_str()]);
    // Neighbouring letters swapped.
    let (_, page) = search(&ports, nurse(), "wnajiku").await;
    assert_eq!(found_ids(&page), [second_id.as_str()]);
    assert_eq!(page["results"][0]["match"], "approximate");
    // An MRN with a wrong check character is a typo, named as such.
    let digits = &mrn[4..10];
    let wrong = if mrn.ends_with('0') { '1' } else { '0' };
    let (code, problem) = search(&ports, nurse(), &format!("KNH-{digits}-{wrong}")).await;
    assert_eq!(code, 422, "{problem}");
    assert!(problem.to_string().contains("\"q\""), "{problem}");
    // Another hospital's staff find nothing of KNH's.
    let (code, page) = search(&ports, caller(Role::Nurse, Some(MTRH)), "wanjiru").await;
    assert_eq!(code, 200);
    assert!(found_ids(&page).is_empty());
    let (code, _) = search(&ports, nurse(), "").await;
    assert_eq!(code, 422);
}

#[tokio::test]
async fn each_role_sees_what_it_may() {
    let (ports, _dir) = ports().await;
    let (_, created) = create(&ports, nurse(), sample_body()).await;
    let id = created["id"].as_str().expect("id").to_owned();
    for role in [
        Role::Patient,
        Role::Responder,
        Role::Dispatcher,
        Role::Pharmacist,
    ] {
        let (code, _) = create(&ports, caller(role, Some(KNH)), sample_body()).await;
        assert_eq!(code, 403, "{role:?} creates");
        let (code, _) =
            status(crate::get(&ports, caller(role, Some(KNH)), at("patients-get", &id)).await);
        assert_eq!(code, 403, "{role:?} reads");
    }
    for role in [
        Role::Nurse,
        Role::Doctor,
        Role::LabTech,
        Role::HospitalAdmin,
    ] {
        let (code, _) =
            status(crate::get(&ports, caller(role, Some(MTRH)), at("patients-get", &id)).await);
        assert_eq!(code, 404, "{role:?} of another hospital");
        let (code, _) = status(
            crate::update(&ports, caller(role, Some(MTRH)), at("patients-update", &id)).await,
        );
        assert_eq!(code, 404, "{role:?} of another hospital updates");
    }
    let lab = caller(Role::LabTech, Some(KNH));
    let (code, seen) = status(crate::get(&ports, lab.clone(), at("patients-get", &id)).await);
    assert_eq!(code, 200);
    assert_eq!(seen["given_name"], "Wanjiru");
    assert_eq!(seen["mrn"], created["mrn"]);
    for hidden in [
        "phone",
        "date_of_birth",
        "identifiers",
        "address",
        "next_of_kin",
    ] {
        assert!(seen.get(hidden).is_none(), "the lab sees {hidden}");
    }
    let (code, _) = create(&ports, lab.clone(), sample_body()).await;
    assert_eq!(code, 403);
    let (code, _) = status(crate::history(&ports, lab, at("patients-history", &id)).await);
    assert_eq!(code, 403);
    // A system admin names the hospital.
    let sysadmin = || caller(Role::SystemAdmin, None);
    let (code, problem) = create(&ports, sysadmin(), sample_body()).await;
    assert_eq!(code, 422);
    assert!(problem.to_string().contains("hospital_id"));
    let mut body = sample_body();
    body["hospital_id"] = MTRH.into();
    let (code, other) = create(&ports, sysadmin(), body).await;
    assert_eq!(code, 201, "{other}");
    assert_eq!(other["mrn"], Mrn::new("MTRH", 1).to_string());
    // Every read was audited with its purpose.
    let audit = ports
        .table()
        .query(haven_kernel::ports::Query::partition(format!(
            "AUDIT#patient/{id}"
        )))
        .await
        .expect("audit");
    let lab_read = audit
        .items
        .iter()
        .find(|i| i.s("actor") == Some("lab_tech-demo-knh"))
        .expect("the lab's read is audited");
    assert_eq!(lab_read.s("action"), Some("patient.read"));
    assert_eq!(lab_read.s("detail"), Some("purpose=treatment"));
    let (code, problem) = status(
        crate::get(
            &ports,
            nurse(),
            with_query("patients-get", &[("purpose", "gossip")]),
        )
        .await,
    );
    assert_eq!(code, 422, "{problem}");
}

#[tokio::test]
async fn bad_input_names_the_field_and_writes_nothing() {
    let (ports, _dir) = ports().await;
    for (field, value) in [
        ("phone", serde_json::json!("0712")),
        ("date_of_birth", serde_json::json!("12/04/1990")),
        ("county", serde_json::json!("Atlantis")),
        ("sex", serde_json::json!("yes")),
    ] {
        let mut body = sample_body();
        body[field] = value;
        let (code, problem) = create(&ports, nurse(), body).await;
        assert!((400..500).contains(&code), "{field}: {code}");
        assert!(problem.to_string().contains(field), "{field}: {problem}");
    }
    let mut body = sample_body();
    body["identifiers"] = serde_json::json!([{"type": "sha_number", "value": "CR12-3"}]);
    let (code, problem) = create(&ports, nurse(), body).await;
    assert_eq!(code, 422);
    assert!(
        problem.to_string().contains("identifiers[0].value"),
        "{problem}"
    );
    // Nothing was written: the first record still gets number 1.
    let (code, created) = create(&ports, nurse(), sample_body()).await;
    assert_eq!(code, 201);
    assert_eq!(created["mrn"], Mrn::new("KNH", 1).to_string());
}

#[tokio::test]
async fn fifty_racing_creates_get_fifty_numbers_without_gaps() {
    let (ports, _dir) = ports().await;
    let creates = (0..50).map(|i| {
        let mut body = sample_body();
        body["given_name"] = format!("Racer{}", (b'a' + (i % 26) as u8) as char).into();
        let ports = &ports;
        async move { create(ports, nurse(), body).await }
    });
    let results = futures::future::join_all(creates).await;
    let mut numbers: Vec<u64> = results
        .iter()
        .map(|(code, body)| {
            assert_eq!(*code, 201, "{body}");
            Mrn::parse(body["mrn"].as_str().expect("mrn"))
                .expect("a valid MRN")
                .number()
        })
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=50).collect::<Vec<u64>>());
}

#[tokio::test]
async fn no_plaintext_reaches_the_database_files() {
    let (ports, dir) = ports().await;
    let marker = "Zqxmarker";
    let body = serde_json::json!({
        "given_name": format!("{marker}given"),
        "family_name": format!("{marker}family"),
        "other_names": format!("{marker}other"),
        "date_of_birth": "1977-07-17",
        "sex": "female",
        "phone": "0799 123 987",
        "email": format!("{marker}@example.co.ke"),
        "county": "Nairobi",
        "address": format!("{marker} street"),
        "next_of_kin": {"name": format!("{marker}kin"), "relationship": format!("{marker}rel"), "phone": "0788 456 654"},
        "identifiers": [{"type": "national_id", "value": "87654321"}, {"type": "passport", "value": "ZQ9876543"}]
    });
    let (code, created) = create(&ports, nurse(), body).await;
    assert_eq!(code, 201, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();
    let (code, _) = search(&ports, nurse(), &format!("{marker}given")).await;
    assert_eq!(code, 200);
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir.path()).expect("dir") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            bytes.extend(std::fs::read(&path).expect("file"));
        }
    }
    assert!(bytes.len() > 10_000, "the database files were read");
    let lower = String::from_utf8_lossy(&bytes).to_lowercase();
    assert!(lower.contains(&id), "the files hold the record (its id)");
    for planted in [
        marker.to_lowercase().as_str(),
        "799123987",
        "788456654",
        "87654321",
        "zq9876543",
        "1977-07-17",
        "nairobi",
    ] {
        assert!(
            !lower.contains(planted),
            "{planted} is in the database files"
        );
    }
}

#[tokio::test]
async fn name_search_pages_through_every_match_and_only_those() {
    let (ports, _dir) = ports().await;
    // 25 Wanjiku Kamau among 60 Wanjiku Otieno: the two-word search reads past the others.
    let mut kamau = std::collections::BTreeSet::new();
    for i in 0..85 {
        let mut body = sample_body();
        body["given_name"] = "Wanjiku".into();
        body["family_name"] = if i % 17 < 5 { "Kamau" } else { "Otieno" }.into();
        body["phone"] = serde_json::Value::Null;
        body["email"] = serde_json::Value::Null;
        body["identifiers"] = serde_json::json!([]);
        let (code, created) = create(&ports, nurse(), body).await;
        assert_eq!(code, 201, "{created}");
        if created["family_name"] == "Kamau" {
            kamau.insert(created["id"].as_str().expect("id").to_owned());
        }
    }
    assert_eq!(kamau.len(), 25);
    let mut seen = std::collections::BTreeSet::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let mut query = vec![("q", "wanj kama"), ("limit", "10")];
        if let Some(c) = cursor.as_deref() {
            query.push(("cursor", c));
        }
        let (code, page) =
            status(crate::search(&ports, nurse(), with_query("patients-search", &query)).await);
        assert_eq!(code, 200, "{page}");
        for id in found_ids(&page) {
            assert!(kamau.contains(&id), "{id} is not a Kamau");
            assert!(seen.insert(id.clone()), "{id} came twice");
        }
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen, kamau, "every match, once");
}

/// The document sample events: a pending document and its signed upload; the bytes stored
/// through the port and checked on the next list, with a download link; roles refused.
#[tokio::test]
async fn documents_through_their_sample_events() {
    use haven_kernel::ports::BlobStore;
    let (ports, _dir) = ports().await;
    let (code, patient) = create(&ports, nurse(), sample_body()).await;
    assert_eq!(code, 201, "{patient}");
    let id = patient["id"].as_str().expect("id").to_owned();
    let (code, asked) = status(
        crate::documents_create(&ports, nurse(), at("patients-documents-create", &id)).await,
    );
    assert_eq!(code, 201, "{asked}");
    assert_eq!(asked["document"]["status"], "pending");
    assert_eq!(asked["document"]["document_type"], "referral");
    assert_eq!(
        asked["upload"]["headers"]["content-type"],
        "application/pdf"
    );
    let size = asked["document"]["size"].as_u64().expect("size") as usize;
    let mut bytes = b"%PDF-1.4\n".to_vec();
    bytes.resize(size, b'x');
    let document_id = asked["document"]["document_id"].as_str().expect("id");
    let key = haven_patients_core::documents::blob_key(KNH, &id, document_id);
    ports
        .blobs()
        .put(&key, "application/pdf", &bytes)
        .await
        .expect("stored");
    let (code, listed) =
        status(crate::documents_list(&ports, nurse(), at("patients-documents-list", &id)).await);
    assert_eq!(code, 200, "{listed}");
    assert_eq!(listed["documents"][0]["status"], "available", "{listed}");
    assert_eq!(
        listed["documents"][0]["title"],
        "Referral letter from the county hospital"
    );
    assert!(listed["documents"][0]["download"]["url"].is_string());
    for (who, want) in [
        (caller(Role::LabTech, Some(KNH)), 403),
        (caller(Role::Patient, None), 403),
        (caller(Role::Nurse, Some(MTRH)), 404),
    ] {
        let (code, _) = status(
            crate::documents_list(&ports, who.clone(), at("patients-documents-list", &id)).await,
        );
        assert_eq!(code, want, "{who:?} lists");
        let (code, _) = status(
            crate::documents_create(&ports, who, at("patients-documents-create", &id)).await,
        );
        assert_eq!(code, want, "asks to upload");
    }
}

/// Alerts routed to the patient's hospital join the history on the page whose time span
/// holds them: paging through gives each exactly once, in order, and none routed elsewhere.
#[tokio::test]
async fn alerts_join_the_history_once_across_pages() {
    use haven_kernel::ports::Index;
    let (ports, _dir) = ports().await;
    let mut body = sample_body();
    body["haven_user_id"] = "u1".into();
    let (code, patient) = create(&ports, nurse(), body).await;
    assert_eq!(code, 201, "{patient}");
    let id = patient["id"].as_str().expect("id").to_owned();
    for (n, day) in ["01", "02", "03", "04", "05"].iter().enumerate() {
        let at = format!("2026-01-{day}T00:00:00.000Z");
        let item = Item::new(&haven_patients_core::store::history_key(
            &id,
            &at,
            &format!("e{n}"),
        ))
        .with("event", Value::s("updated"))
        .with("at", Value::s(&at));
        ports.table().put(item, None).await.expect("history");
    }
    // Alerts of user u1 (and one of someone else), routed to KNH or to another hospital.
    for (alert, user, day, hospital) in [
        ("a1", "u1", "01", KNH),
        ("a2", "u1", "03", KNH),
        ("a3", "u1", "04", MTRH),
        ("a4", "u1", "05", KNH),
        ("a5", "u2", "02", KNH),
    ] {
        let created = format!("2026-01-{day}T12:00:00.000Z");
        let sort = refs::alert_sort(&created, alert);
        let item = Item::new(&haven_kernel::Key::new(format!("ALERT#{alert}"), "ALERT"))
            .with(
                Index::Gsi1.partition_attribute(),
                Value::s(refs::user_alerts_partition(user)),
            )
            .with(Index::Gsi1.sort_attribute(), Value::s(&sort))
            .with(refs::ALERT_ID, Value::s(alert))
            .with(refs::ALERT_STATUS, Value::s("closed"))
            .with(refs::ALERT_KIND, Value::s("trauma"));
        ports.table().put(item, None).await.expect("alert");
        let routing = Item::new(&refs::hospital_alert_routing(hospital, &sort))
            .with(refs::ALERT_ID, Value::s(alert))
            .with(refs::ROUTED_AT, Value::s(&created));
        ports.table().put(routing, None).await.expect("routing");
    }
    let mut cursor: Option<String> = None;
    let mut all = Vec::new();
    loop {
        let mut query = vec![("limit", "2")];
        if let Some(c) = &cursor {
            query.push(("cursor", c));
        }
        let req = request("patients-history", |e| {
            e["pathParameters"]["patient_id"] = id.clone().into();
            set_query(e, &query);
        });
        let (code, page) = status(crate::history(&ports, nurse(), req).await);
        assert_eq!(code, 200, "{page}");
        all.extend(page["entries"].as_array().cloned().unwrap_or_default());
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    let alerts: Vec<String> = all
        .iter()
        .filter(|e| e["event"] == "emergency_alert")
        .map(|e| {
            e["detail"]
                .as_str()
                .unwrap_or("")
                .split(' ')
                .nth(1)
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    assert_eq!(alerts, ["a4", "a2", "a1"], "{all:#?}");
    let times: Vec<&str> = all.iter().filter_map(|e| e["at"].as_str()).collect();
    let mut sorted = times.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first across pages");
}
