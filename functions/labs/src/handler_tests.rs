//! The labs handlers on the sample events of `events/`, on the embedded backend.

use haven_kernel::item::{Item, Value};
use haven_kernel::ports::{Ports, Table};
use haven_kernel::{Role, refs};
use haven_platform::EmbeddedPorts;

const KNH: &str = "demo-knh";
const PATIENT: &str = "0192f3a4b5c67d8e9f0011223344aa01";

async fn ports() -> (EmbeddedPorts, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let ports = EmbeddedPorts::in_dir(dir.path().to_path_buf()).expect("ports");
    let patient = Item::new(&refs::patient_record(PATIENT))
        .with(refs::PATIENT_HOSPITAL, Value::s(KNH))
        .with(refs::PATIENT_STATUS, Value::s(refs::PATIENT_ACTIVE));
    ports.table().put(patient, None).await.expect("patient");
    (ports, dir)
}

use haven_edge::testing::{answer as status, sample_event as request, signed as caller};

fn at(name: &str, order_id: &str) -> lambda_http::Request {
    request(name, |e| e["pathParameters"]["order_id"] = order_id.into())
}

#[tokio::test]
async fn an_order_through_its_sample_events() {
    let (ports, _dir) = ports().await;
    let doctor = caller(Role::Doctor, Some(KNH));
    let (code, order) = status(
        crate::order_create(
            &ports,
            doctor.clone(),
            request("labs-orders-create", |_| {}),
        )
        .await,
    );
    assert_eq!(code, 201, "{order}");
    assert_eq!(order["priority"], "stat");
    assert_eq!(order["tests"][0]["code"], "70569-9");
    let id = order["order_id"].as_str().expect("id").to_owned();
    let lab = caller(Role::LabTech, Some(KNH));
    let (code, listed) =
        status(crate::order_list(&ports, lab.clone(), request("labs-orders-list", |_| {})).await);
    assert_eq!(code, 200, "{listed}");
    assert_eq!(listed["orders"][0]["order_id"], id.as_str());
    let (code, moved) =
        status(crate::order_status(&ports, lab.clone(), at("labs-orders-status", &id)).await);
    assert_eq!((code, moved["status"].as_str()), (200, Some("in_progress")));
    // The same move again: the order is past it.
    let (code, problem) =
        status(crate::order_status(&ports, lab, at("labs-orders-status", &id)).await);
    assert_eq!(code, 409, "{problem}");
    assert_eq!(problem["current_state"], "in_progress");
    let (code, read) =
        status(crate::order_get(&ports, doctor.clone(), at("labs-orders-get", &id)).await);
    assert_eq!((code, read["version"].as_i64()), (200, Some(2)));
    // Another hospital's staff: not found; a nurse cannot move it; bad input names its field.
    let other = caller(Role::Doctor, Some("demo-cgtrh"));
    assert_eq!(
        status(crate::order_get(&ports, other, at("labs-orders-get", &id)).await).0,
        404
    );
    let nurse = caller(Role::Nurse, Some(KNH));
    assert_eq!(
        status(crate::order_status(&ports, nurse, at("labs-orders-status", &id)).await).0,
        403
    );
    let (code, problem) = status(
        crate::order_create(
            &ports,
            doctor.clone(),
            request("labs-orders-create", |e| {
                e["body"] = serde_json::json!({"patient_id": PATIENT, "priority": "stat",
                    "tests": [{"code": "70569-8"}]})
                .to_string()
                .into();
            }),
        )
        .await,
    );
    assert_eq!(
        (code, problem["field"].as_str()),
        (422, Some("tests[0].code"))
    );
    let (code, problem) = status(
        crate::order_list(
            &ports,
            doctor,
            request("labs-orders-list", |e| {
                e["rawQueryString"] = "priority=soon".into();
                e["queryStringParameters"] = serde_json::json!({"priority": "soon"});
            }),
        )
        .await,
    );
    assert_eq!((code, problem["field"].as_str()), (422, Some("priority")));
}
