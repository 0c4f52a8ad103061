//! The medical profile end to end on both backends: no plaintext in storage or logs, ETags,
//! erasure, a FHIR Bundle an independent validator accepts, and break-glass reads that only
//! the treating hospital gets, every attempt audited. Also the patient register's personal
//! fields, which must not reach the logs either (this binary captures them).

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use haven_tests::gateway::RunningGateway;
use haven_tests::http::{client, login, unique, unique_email};
use serde_json::{Value, json};

haven_tests::on_both_backends!(
    profiles_never_reach_storage_or_logs_in_clear,
    break_glass_is_for_the_treating_hospital_and_audited,
    patient_records_never_reach_the_logs_in_clear,
);

use haven_tests::http::PASSWORD;

/// Every log line of this test process, captured from the first test on.
fn logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_env_filter("debug,aws=info,aws_smithy_runtime=info,hyper=info,h2=info,rustls=info,reqwest=info")
            .with_writer(move || Sink(sink.clone()))
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        buffer
    })
    .clone()
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn call(
    gw: &RunningGateway,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut r = client()
        .request(method.parse().expect("method"), gw.url(path))
        .bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    let response = r.send().await.expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (
        status,
        headers,
        response.json().await.unwrap_or(Value::Null),
    )
}

async fn patient(gw: &RunningGateway) -> String {
    let email = unique_email("patient");
    let response = client()
        .post(gw.url("/api/v1/auth/register"))
        .json(&json!({"email": email, "password": PASSWORD, "full_name": "Achieng Otieno"}))
        .send()
        .await
        .expect("register");
    assert_eq!(response.status(), 201);
    login(gw, &email, PASSWORD).await
}

async fn staff(gw: &RunningGateway, role: &str, hospital: &str) -> String {
    haven_tests::http::new_staff(gw, role, Some(hospital)).await
}

/// A profile whose every free-text field carries `marker`.
fn profile(marker: &str) -> Value {
    json!({
        "blood_type": "AB-",
        "date_of_birth": "1990-02-14",
        "allergies": [{"substance": format!("{marker}-substance"), "reaction": format!("{marker}-reaction"), "severity": "life_threatening"}],
        "conditions": [{"name": "asthma"}, {"name": format!("{marker}-condition"), "icd10": "E11.9"}],
        "medications": [{"name": format!("{marker}-drug"), "dose": format!("{marker}-dose"), "frequency": format!("{marker}-frequency")}],
        "emergency_contacts": [{"name": format!("{marker}-contact"), "relation": format!("{marker}-relation"), "phone": "+254711111111"}],
        "insurance": {"provider": format!("{marker}-insurer"), "member_number": format!("{marker}-member")}
    })
}

fn python_validates_fhir(bundle: &Value) -> String {
    haven_tests::independent::fhir_bundle(bundle)
}

async fn profiles_never_reach_storage_or_logs_in_clear(gw: RunningGateway) {
    let logs = logs();
    let token = patient(&gw).await;
    let marker = unique("MARKER");
    let path = "/api/v1/medical-profile";

    let (status, headers, created) =
        call(&gw, "POST", path, &token, Some(profile(&marker)), &[]).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(headers["etag"], "\"1\"");
    assert_eq!(headers["cache-control"], "no-store");
    let (status, _, again) = call(&gw, "POST", path, &token, Some(profile(&marker)), &[]).await;
    assert_eq!(
        (status, again["type"].as_str()),
        (409, Some("/problems/conflict"))
    );
    let (status, _, read) = call(&gw, "GET", path, &token, None, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        read["allergies"][0]["substance"],
        format!("{marker}-substance")
    );
    assert_eq!(read["version"], 1);

    // Two devices: the second write based on version 1 is refused, not silently applied.
    let mut changed = profile(&marker);
    changed["blood_type"] = json!("O+");
    let (status, _, problem) = call(&gw, "PUT", path, &token, Some(changed.clone()), &[]).await;
    assert_eq!(
        (status, problem["type"].as_str()),
        (428, Some("/problems/precondition-required"))
    );
    let (status, headers, updated) = call(
        &gw,
        "PUT",
        path,
        &token,
        Some(changed.clone()),
        &[("if-match", "\"1\"")],
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(headers["etag"], "\"2\"");
    let (status, _, problem) = call(
        &gw,
        "PUT",
        path,
        &token,
        Some(changed),
        &[("if-match", "\"1\"")],
    )
    .await;
    assert_eq!(
        (status, problem["current_state"].as_str()),
        (412, Some("\"2\""))
    );

    // Bad input names its field and changes nothing.
    let mut bad = profile(&marker);
    bad["emergency_contacts"][0]["phone"] = json!("0711 111 111");
    let (status, _, problem) = call(
        &gw,
        "PUT",
        path,
        &token,
        Some(bad),
        &[("if-match", "\"2\"")],
    )
    .await;
    assert_eq!(
        (status, problem["field"].as_str()),
        (422, Some("emergency_contacts[0].phone"))
    );
    let mut bad = profile(&marker);
    bad["allergies"][0]["severity"] = json!("deadly");
    let (status, _, problem) = call(
        &gw,
        "PUT",
        path,
        &token,
        Some(bad),
        &[("if-match", "\"2\"")],
    )
    .await;
    assert_eq!(status, 422, "{problem}");

    // FHIR, checked by an independent implementation.
    let response = client()
        .get(gw.url("/api/v1/medical-profile/fhir"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("fhir");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/fhir+json");
    let bundle: Value = response.json().await.expect("json");
    let kinds = python_validates_fhir(&bundle);
    assert_eq!(
        kinds,
        "Patient AllergyIntolerance Condition Condition MedicationStatement Observation RelatedPerson Coverage"
    );

    // Nothing in clear: not in the stored bytes, not in the logs.
    let raw = (gw.raw_store)().await;
    assert!(
        raw.windows(b"MEDICAL#PROFILE".len())
            .any(|w| w == b"MEDICAL#PROFILE"),
        "the raw store holds the profile item"
    );
    let text = String::from_utf8_lossy(&raw);
    assert!(!text.contains(&marker), "a marker reached storage in clear");
    let logged = String::from_utf8_lossy(&logs.lock().expect("logs")).into_owned();
    assert!(!logged.is_empty(), "logs were captured");
    assert!(!logged.contains(&marker), "a marker reached the logs");

    // Erasure: gone, and the trail says so without saying what.
    let (status, _, _) = call(&gw, "DELETE", path, &token, None, &[]).await;
    assert_eq!(status, 204);
    assert_eq!(call(&gw, "GET", path, &token, None, &[]).await.0, 404);
    assert_eq!(call(&gw, "DELETE", path, &token, None, &[]).await.0, 404);
    let (_, _, log) = call(
        &gw,
        "GET",
        "/api/v1/medical-profile/access-log",
        &token,
        None,
        &[],
    )
    .await;
    let actions: Vec<&str> = log["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["action"].as_str().expect("action"))
        .collect();
    assert_eq!(
        actions,
        ["medical.erased", "medical.updated", "medical.created"]
    );
    assert!(!log.to_string().contains(&marker));
}

async fn break_glass_is_for_the_treating_hospital_and_audited(gw: RunningGateway) {
    let owner = patient(&gw).await;
    let marker = unique("MARKER");
    let (status, _, _) = call(
        &gw,
        "POST",
        "/api/v1/medical-profile",
        &owner,
        Some(profile(&marker)),
        &[],
    )
    .await;
    assert_eq!(status, 201);
    // Asthma in the profile makes a breathing emergency critical.
    let (status, _, alert) = call(
        &gw,
        "POST",
        "/api/v1/emergency/alert",
        &owner,
        Some(json!({"latitude": -1.2864, "longitude": 36.8172, "emergency_type": "respiratory"})),
        &[],
    )
    .await;
    assert_eq!(status, 201, "{alert}");
    assert_eq!(alert["priority"], "critical");
    assert_eq!(alert["priority_rule"], "condition.respiratory_history");
    let id = alert["alert_id"].as_str().expect("id");
    let hospital = alert["hospital"]["hospital_id"].as_str().expect("hospital");
    let elsewhere = if hospital == "demo-cgtrh" {
        "demo-knh"
    } else {
        "demo-cgtrh"
    };
    let path = format!("/api/v1/emergency/{id}/medical-profile");

    let treating = staff(&gw, "nurse", hospital).await;
    let (status, headers, read) = call(&gw, "GET", &path, &treating, None, &[]).await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(
        read["allergies"][0]["substance"],
        format!("{marker}-substance")
    );

    let unrelated_nurse = staff(&gw, "nurse", elsewhere).await;
    assert_eq!(
        call(&gw, "GET", &path, &unrelated_nurse, None, &[]).await.0,
        403
    );
    let other_patient = patient(&gw).await;
    assert_eq!(
        call(&gw, "GET", &path, &other_patient, None, &[]).await.0,
        403
    );
    let lab = staff(&gw, "lab_tech", hospital).await;
    assert_eq!(call(&gw, "GET", &path, &lab, None, &[]).await.0, 403);

    // Cancelled, the treating hospital keeps access for the handover window.
    let (status, _, _) = call(
        &gw,
        "POST",
        &format!("/api/v1/emergency/{id}/cancel"),
        &owner,
        Some(json!({})),
        &[],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(call(&gw, "GET", &path, &treating, None, &[]).await.0, 200);

    let (_, _, log) = call(
        &gw,
        "GET",
        "/api/v1/medical-profile/access-log",
        &owner,
        None,
        &[],
    )
    .await;
    let entries = log["entries"].as_array().expect("entries");
    let reads = entries
        .iter()
        .filter(|e| e["action"] == "medical.break_glass" && e["outcome"] == "success")
        .count();
    let refusals: Vec<&Value> = entries
        .iter()
        .filter(|e| e["action"] == "medical.break_glass" && e["outcome"] == "refused")
        .collect();
    assert_eq!(reads, 2, "{log}");
    assert_eq!(refusals.len(), 3, "{log}");
    for r in &refusals {
        assert!(r["detail"].as_str().expect("detail").contains(id), "{r}");
    }
}

/// Every personal field of a patient record, a document's title and file name, an HL7
/// import and a search for them: the marker reaches no log line.
async fn patient_records_never_reach_the_logs_in_clear(gw: RunningGateway) {
    let logs = logs();
    let nurse = haven_tests::http::new_staff(&gw, "nurse", Some("demo-knh")).await;
    let marker = "Qzvlogmarker";
    let body = json!({
        "given_name": format!("{marker}g"),
        "family_name": format!("{marker}f"),
        "other_names": format!("{marker}o"),
        "date_of_birth": "1961-03-17",
        "sex": "female",
        "phone": "0744 813 562",
        "email": format!("{marker}@example.org"),
        "county": "Marsabit",
        "address": format!("{marker} lane"),
        "next_of_kin": {"name": format!("{marker}k"), "phone": "0733 129 845"},
        "identifiers": [{"type": "passport", "value": "QL1234567"}, {"type": "national_id", "value": "61234577"}]
    });
    let (status, _, created) = call(&gw, "POST", "/api/v1/patients", &nurse, Some(body), &[]).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();
    let mrn = created["mrn"].as_str().unwrap_or_default().to_owned();
    // A field error must not echo the value either.
    let (status, _, _) = call(
        &gw,
        "POST",
        "/api/v1/patients",
        &nurse,
        Some(json!({"given_name": format!("{marker}x"), "family_name": "Kamau", "sex": "female", "estimated_age": 30, "phone": format!("07{marker}")})),
        &[],
    )
    .await;
    assert_eq!(status, 422);
    let (status, _, asked) = call(
        &gw,
        "POST",
        &format!("/api/v1/patients/{id}/documents"),
        &nurse,
        Some(json!({"document_type": "consent", "content_type": "application/pdf", "size": 9, "title": format!("{marker} consent"), "filename": format!("{marker}.pdf")})),
        &[],
    )
    .await;
    assert_eq!(status, 201, "{asked}");
    // Reads and searches by every kind of value.
    let mut reads = vec![
        format!("/api/v1/patients/{id}"),
        format!("/api/v1/patients/{id}/fhir"),
        format!("/api/v1/patients/{id}/documents"),
    ];
    for q in [
        format!("{marker}g"),
        "0744813562".to_owned(),
        "QL1234567".to_owned(),
        mrn,
    ] {
        let q: String = form_urlencoded::byte_serialize(q.as_bytes()).collect();
        reads.push(format!("/api/v1/patients/search?q={q}"));
    }
    for path in reads {
        let (status, _, body) = call(&gw, "GET", &path, &nurse, None, &[]).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    let captured = String::from_utf8_lossy(&logs.lock().expect("logs")).to_lowercase();
    assert!(
        captured.contains("/api/v1/patients"),
        "the logs were captured"
    );
    for planted in [
        marker.to_lowercase().as_str(),
        "744813562",
        "733129845",
        "ql1234567",
        "61234577",
        "1961-03-17",
        "marsabit",
    ] {
        assert!(!captured.contains(planted), "{planted} reached the logs");
    }
}
