use super::*;
use haven_platform::EmbeddedPorts;
use serde_json::json;

const KNH: &str = "demo-knh";

async fn ports() -> (EmbeddedPorts, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("dir");
    let ports = EmbeddedPorts::in_dir(dir.path().to_path_buf()).expect("ports");
    for (id, hospital, status) in [
        ("p1", KNH, "active"),
        ("p2", "demo-cgtrh", "active"),
        ("p3", KNH, "deleted"),
    ] {
        let item = Item::new(&refs::patient_record(id))
            .with(refs::PATIENT_HOSPITAL, Value::s(hospital))
            .with(refs::PATIENT_STATUS, Value::s(status));
        ports.table().put(item, None).await.expect("patient");
    }
    (ports, dir)
}

fn staff(role: Role, id: &str, hospital: Option<&str>) -> Staff {
    Staff {
        user_id: id.into(),
        role,
        hospital_id: hospital.map(str::to_owned),
    }
}

fn doctor() -> Staff {
    staff(Role::Doctor, "dr-1", Some(KNH))
}

fn order(body: serde_json::Value) -> NewOrder {
    serde_json::from_value(body).expect("shape")
}

fn field(r: Result<LabOrder, DomainError>) -> Option<String> {
    r.err().and_then(|e| e.field().map(str::to_owned))
}

#[tokio::test]
async fn a_doctor_orders_and_the_lab_and_doctor_move_it() {
    let (ports, _dir) = ports().await;
    let created = create(
        &ports,
        &doctor(),
        order(
            json!({"patient_id": "p1", "priority": "stat", "specimen_type": "blood",
                     "clinical_notes": "suspected sepsis",
                     "tests": [{"code": "2823-3"}, {"code": "12345-5", "name": "Local panel"}]}),
        ),
    )
    .await
    .expect("created");
    assert_eq!(created.status, OrderStatus::Ordered);
    assert_eq!(
        created.tests[0].name,
        "Potassium [Moles/volume] in Serum or Plasma"
    );
    assert_eq!(created.tests[0].unit.as_deref(), Some("mmol/L"));
    assert_eq!(
        created.tests[1].name, "Local panel",
        "unknown but valid codes keep their name"
    );
    let lab = staff(Role::LabTech, "lab-1", Some(KNH));
    let read = super::read(&ports, &lab, &created.order_id)
        .await
        .expect("read");
    assert_eq!(read, created);
    move_to(&ports, &lab, &created.order_id, OrderStatus::InProgress)
        .await
        .expect("taken in");
    move_to(&ports, &lab, &created.order_id, OrderStatus::Completed)
        .await
        .expect("done");
    let other = staff(Role::Doctor, "dr-2", Some(KNH));
    assert_eq!(
        move_to(&ports, &other, &created.order_id, OrderStatus::Reviewed)
            .await
            .err(),
        Some(DomainError::Forbidden)
    );
    let reviewed = move_to(&ports, &doctor(), &created.order_id, OrderStatus::Reviewed)
        .await
        .expect("reviewed");
    let moves: Vec<OrderStatus> = reviewed.timeline.iter().map(|t| t.status).collect();
    assert_eq!(
        moves,
        [
            OrderStatus::Ordered,
            OrderStatus::InProgress,
            OrderStatus::Completed,
            OrderStatus::Reviewed
        ]
    );
    assert_eq!(reviewed.version, 4);
    match move_to(&ports, &doctor(), &created.order_id, OrderStatus::Cancelled).await {
        Err(DomainError::Conflict { current, .. }) => {
            assert_eq!(current.as_deref(), Some("reviewed"))
        }
        other => panic!("{other:?}"),
    }
    // Nothing clinical in the stored item.
    let item = ports
        .table()
        .get(&key(&created.order_id))
        .await
        .expect("get")
        .expect("item");
    let raw = format!("{item:?}");
    for planted in ["sepsis", "2823-3", "Potassium", "Local panel", "blood"] {
        assert!(!raw.contains(planted), "{planted} is in the item");
    }
}

#[tokio::test]
async fn bad_orders_name_their_field_and_write_nothing() {
    let (ports, _dir) = ports().await;
    let base = json!({"patient_id": "p1", "priority": "routine", "tests": [{"code": "718-7"}]});
    let with = |k: &str, v: serde_json::Value| {
        let mut b = base.clone();
        b[k] = v;
        order(b)
    };
    for (input, want) in [
        (with("tests", json!([])), "tests"),
        (with("tests", json!([{"code": "718-8"}])), "tests[0].code"),
        (
            with("tests", json!([{"code": "718-7"}, {"code": "7187"}])),
            "tests[1].code",
        ),
        (
            with("tests", json!([{"code": "718-7"}, {"code": "718-7"}])),
            "tests[1].code",
        ),
        (with("tests", json!([{"code": "12345-5"}])), "tests[0].name"),
        (with("patient_id", json!("p#1")), "patient_id"),
        (with("patient_id", json!("p2")), "patient_id"),
        (with("patient_id", json!("p3")), "patient_id"),
        (with("patient_id", json!("nobody")), "patient_id"),
        (
            with("clinical_notes", json!("x".repeat(2001))),
            "clinical_notes",
        ),
    ] {
        assert_eq!(
            field(create(&ports, &doctor(), input).await).as_deref(),
            Some(want)
        );
    }
    let page = list(&ports, &doctor(), &Filter::default(), 50, None)
        .await
        .expect("list");
    assert!(page.orders.is_empty(), "nothing was written");
    for role in [
        Role::Nurse,
        Role::LabTech,
        Role::HospitalAdmin,
        Role::Patient,
    ] {
        let who = staff(role, "x", Some(KNH));
        assert_eq!(
            create(&ports, &who, order(base.clone())).await.err(),
            Some(DomainError::Forbidden),
            "{role:?} does not order"
        );
    }
}

#[tokio::test]
async fn lists_are_the_hospitals_newest_first_and_filtered() {
    let (ports, _dir) = ports().await;
    let mut ids = Vec::new();
    for (priority, code) in [
        ("routine", "718-7"),
        ("stat", "2345-7"),
        ("urgent", "2160-0"),
    ] {
        let o = create(
            &ports,
            &doctor(),
            order(json!({"patient_id": "p1", "priority": priority, "tests": [{"code": code}]})),
        )
        .await
        .expect("created");
        ids.push(o.order_id);
    }
    let nurse = staff(Role::Nurse, "n-1", Some(KNH));
    let all = list(&ports, &nurse, &Filter::default(), 50, None)
        .await
        .expect("list");
    let got: Vec<&str> = all.orders.iter().map(|o| o.order_id.as_str()).collect();
    assert_eq!(got, [ids[2].as_str(), ids[1].as_str(), ids[0].as_str()]);
    let stat = Filter {
        priority: Some(Priority::Stat),
        ..Filter::default()
    };
    let page = list(&ports, &nurse, &stat, 50, None).await.expect("list");
    assert_eq!(page.orders.len(), 1);
    assert_eq!(page.orders[0].order_id, ids[1]);
    let other = staff(Role::Nurse, "n-2", Some("demo-cgtrh"));
    assert!(
        list(&ports, &other, &Filter::default(), 50, None)
            .await
            .expect("list")
            .orders
            .is_empty()
    );
    assert_eq!(
        super::read(&ports, &other, &ids[0]).await.err(),
        Some(DomainError::NotFound("lab order".into())),
        "another hospital's order does not exist for them"
    );
    assert_eq!(
        super::read(&ports, &staff(Role::Patient, "u", None), &ids[0])
            .await
            .err(),
        Some(DomainError::Forbidden)
    );
}

#[tokio::test]
async fn racing_moves_of_one_order_let_exactly_one_win() {
    let (ports, _dir) = ports().await;
    let o = create(
        &ports,
        &doctor(),
        order(json!({"patient_id": "p1", "priority": "routine", "tests": [{"code": "718-7"}]})),
    )
    .await
    .expect("created");
    let ports = std::sync::Arc::new(ports);
    let lab = staff(Role::LabTech, "lab-1", Some(KNH));
    let moves = (0..10).map(|_| {
        let (ports, lab, id) = (ports.clone(), lab.clone(), o.order_id.clone());
        tokio::spawn(
            async move { move_to(ports.as_ref(), &lab, &id, OrderStatus::InProgress).await },
        )
    });
    let results = futures::future::join_all(moves).await;
    let won = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
    assert_eq!(won, 1, "{results:?}");
    let read = super::read(ports.as_ref(), &lab, &o.order_id)
        .await
        .expect("read");
    assert_eq!(read.timeline.len(), 2, "one move recorded");
}
