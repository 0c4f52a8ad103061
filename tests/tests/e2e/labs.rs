//! Lab orders end to end through the local gateway, on both backends: a doctor orders for a
//! patient registered over HTTP, the lab takes it in and completes it, the ordering doctor
//! reviews it; illegal moves name the state; other roles and other hospitals are refused; bad
//! input names its field; nothing ordered is readable in the store.

use haven_tests::gateway::RunningGateway;
use haven_tests::http::{call, new_staff};
use serde_json::{Value, json};

haven_tests::on_both_backends!(an_order_is_made_worked_and_reviewed);

const KNH: &str = "demo-knh";

async fn put_status(gw: &RunningGateway, token: &str, id: &str, to: &str) -> (u16, Value) {
    call(
        gw,
        "PUT",
        &format!("/api/v1/lab-orders/{id}/status"),
        Some(token),
        Some(json!({"status": to})),
    )
    .await
}

async fn an_order_is_made_worked_and_reviewed(gw: RunningGateway) {
    let nurse = new_staff(&gw, "nurse", Some(KNH)).await;
    let doctor = new_staff(&gw, "doctor", Some(KNH)).await;
    let lab = new_staff(&gw, "lab_tech", Some(KNH)).await;
    let (status, patient) = call(
        &gw,
        "POST",
        "/api/v1/patients",
        Some(&nurse),
        Some(json!({"given_name": "Akinyi", "family_name": "Otieno", "sex": "female", "estimated_age": 29})),
    )
    .await;
    assert_eq!(status, 201, "{patient}");
    let patient_id = patient["id"].as_str().expect("id").to_owned();
    let marker = "Qzvlabnote";
    let (status, order) = call(
        &gw,
        "POST",
        "/api/v1/lab-orders",
        Some(&doctor),
        Some(
            json!({"patient_id": patient_id, "priority": "urgent", "specimen_type": "blood",
                    "clinical_notes": format!("{marker} fever"),
                    "tests": [{"code": "70569-9"}, {"code": "718-7"}]}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{order}");
    let id = order["order_id"].as_str().expect("id").to_owned();
    assert_eq!(order["status"], "ordered");

    // Illegal and refused moves first: nothing changes.
    let (status, problem) = put_status(&gw, &lab, &id, "completed").await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["current_state"], "ordered");
    assert_eq!(put_status(&gw, &doctor, &id, "in_progress").await.0, 403);
    assert_eq!(put_status(&gw, &nurse, &id, "in_progress").await.0, 403);
    for step in ["in_progress", "completed"] {
        let (status, moved) = put_status(&gw, &lab, &id, step).await;
        assert_eq!(
            (status, moved["status"].as_str()),
            (200, Some(step)),
            "{moved}"
        );
    }
    let other_doctor = new_staff(&gw, "doctor", Some(KNH)).await;
    assert_eq!(put_status(&gw, &other_doctor, &id, "reviewed").await.0, 403);
    let (status, reviewed) = put_status(&gw, &doctor, &id, "reviewed").await;
    assert_eq!(status, 200, "{reviewed}");
    let steps: Vec<&str> = reviewed["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter_map(|t| t["status"].as_str())
        .collect();
    assert_eq!(steps, ["ordered", "in_progress", "completed", "reviewed"]);

    // The lab's worklist and the filters.
    let (status, listed) = call(
        &gw,
        "GET",
        &format!("/api/v1/lab-orders?patient_id={patient_id}&status=reviewed"),
        Some(&lab),
        None,
    )
    .await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["orders"][0]["order_id"], id.as_str());
    assert_eq!(listed["orders"][0]["tests"][1]["code"], "718-7");

    // Other hospitals and roles.
    let elsewhere = new_staff(&gw, "doctor", Some("demo-cgtrh")).await;
    let path = format!("/api/v1/lab-orders/{id}");
    assert_eq!(call(&gw, "GET", &path, Some(&elsewhere), None).await.0, 404);
    let (status, _) = call(
        &gw,
        "POST",
        "/api/v1/lab-orders",
        Some(&elsewhere),
        Some(json!({"patient_id": patient_id, "priority": "stat", "tests": [{"code": "718-7"}]})),
    )
    .await;
    assert_eq!(
        status, 422,
        "another hospital's patient is not theirs to order for"
    );
    let pharmacist = new_staff(&gw, "pharmacist", Some(KNH)).await;
    assert_eq!(
        call(&gw, "GET", &path, Some(&pharmacist), None).await.0,
        403
    );

    // Bad input names its field and writes nothing.
    for (body, field) in [
        (
            json!({"patient_id": patient_id, "priority": "stat", "tests": [{"code": "718-8"}]}),
            "tests[0].code",
        ),
        (
            json!({"patient_id": patient_id, "priority": "stat", "tests": []}),
            "tests",
        ),
        (
            json!({"patient_id": patient_id, "priority": "whenever", "tests": [{"code": "718-7"}]}),
            "priority",
        ),
    ] {
        let (status, problem) =
            call(&gw, "POST", "/api/v1/lab-orders", Some(&doctor), Some(body)).await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(problem["field"], field, "{problem}");
    }
    let (_, all) = call(&gw, "GET", "/api/v1/lab-orders", Some(&doctor), None).await;
    assert_eq!(all["orders"].as_array().map(Vec::len), Some(1));

    // What was ordered is sealed.
    let raw = String::from_utf8_lossy(&(gw.raw_store)().await).to_lowercase();
    assert!(raw.contains(&id), "the store was read");
    for planted in [marker.to_lowercase().as_str(), "70569-9", "plasmodium"] {
        assert!(!raw.contains(planted), "{planted} reached the store");
    }
}
