//! Lab orders: a doctor of a patient's hospital orders LOINC-coded tests for them; the lab
//! moves the order through its states (`status`). What was ordered (tests, specimen, notes)
//! is medical data and sealed whole under the order's own data key; the item keeps ids, the
//! state, the priority and times, so the lab's worklist can be listed without opening each.
//!
//! | item | pk | sk | what |
//! | --- | --- | --- | --- |
//! | order | `LABORDER#{id}` | `ORDER` | patient, hospital, doctor, priority, status, version, timeline; `details_*` envelope; `gsi1` `LABORDERS#{hospital}` / `{created}#{id}` |
//!
//! The patient is checked through the patients context's published record key
//! (`haven_kernel::refs::patient_record`): it must be an active patient of the hospital.

use haven_kernel::envelope::{self, Envelope};
use haven_kernel::error::optional_text;
use haven_kernel::item::{Item, Key, Value};
use haven_kernel::ports::{
    Condition, Cursor, EncryptionContext, Index, Ports, Query, Table, Update,
};
use haven_kernel::{DomainError, Role, refs};
use serde::{Deserialize, Serialize};

use crate::loinc::{self, LoincCode, LoincError};
use crate::status::{self, Mover, OrderStatus, Priority};

const SEALED: &str = "details";
const MAX_TESTS: usize = 30;
const NOTES_MAX: usize = 2000;

/// The caller, as the labs context needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staff {
    pub user_id: String,
    pub role: Role,
    pub hospital_id: Option<String>,
}

impl Staff {
    /// May this caller see orders of `hospital_id`? Staff of another hospital are told the
    /// order does not exist; roles that never see orders are refused (a system admin runs the
    /// platform, not a hospital's clinical work).
    fn may_read(&self, hospital_id: &str) -> Result<(), DomainError> {
        match self.role {
            Role::Doctor | Role::Nurse | Role::LabTech | Role::HospitalAdmin => {
                if self.hospital_id.as_deref() == Some(hospital_id) {
                    Ok(())
                } else {
                    Err(DomainError::NotFound("lab order".into()))
                }
            }
            _ => Err(DomainError::Forbidden),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestInput {
    pub code: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// `POST /lab-orders`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    pub patient_id: String,
    pub tests: Vec<TestInput>,
    pub priority: Priority,
    #[serde(default)]
    pub specimen_type: Option<String>,
    #[serde(default)]
    pub clinical_notes: Option<String>,
    #[serde(default)]
    pub prescription_id: Option<String>,
}

/// One ordered test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderedTest {
    pub code: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// What the envelope holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Details {
    tests: Vec<OrderedTest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    specimen_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    clinical_notes: Option<String>,
}

/// One move of the order, when and by whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub status: OrderStatus,
    pub at: String,
    pub by: String,
}

/// An order as staff see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabOrder {
    pub order_id: String,
    pub patient_id: String,
    pub hospital_id: String,
    pub ordered_by: String,
    pub priority: Priority,
    pub status: OrderStatus,
    pub tests: Vec<OrderedTest>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub specimen_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clinical_notes: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prescription_id: Option<String>,
    pub created_at: String,
    pub timeline: Vec<Transition>,
    pub version: i64,
}

pub fn key(order_id: &str) -> Key {
    Key::new(format!("LABORDER#{order_id}"), "ORDER")
}

fn list_partition(hospital_id: &str) -> String {
    format!("LABORDERS#{hospital_id}")
}

fn context(order_id: &str, hospital_id: &str, patient_id: &str) -> EncryptionContext {
    EncryptionContext::new()
        .with("record_kind", "lab_order")
        .with("order_id", order_id)
        .with("hospital_id", hospital_id)
        .with("patient_id", patient_id)
}

fn checked_tests(tests: Vec<TestInput>) -> Result<Vec<OrderedTest>, DomainError> {
    if tests.is_empty() {
        return Err(DomainError::invalid("tests", "order at least one test"));
    }
    if tests.len() > MAX_TESTS {
        return Err(DomainError::invalid(
            "tests",
            format!("at most {MAX_TESTS} tests in one order"),
        ));
    }
    let mut out: Vec<OrderedTest> = Vec::with_capacity(tests.len());
    for (i, t) in tests.into_iter().enumerate() {
        let field = format!("tests[{i}].code");
        let code = LoincCode::parse(&t.code).map_err(|e| match e {
            LoincError::Shape | LoincError::CheckDigit { .. } => {
                DomainError::invalid(&field, e.to_string())
            }
        })?;
        if out.iter().any(|o| o.code == code.as_str()) {
            return Err(DomainError::invalid(&field, "this test is ordered twice"));
        }
        let known = loinc::common_test(code.as_str());
        let given = optional_text(t.name, &format!("tests[{i}].name"), 200)?;
        let name = match (given, known) {
            (Some(n), _) => n,
            (None, Some(k)) => k.name.to_owned(),
            (None, None) => {
                return Err(DomainError::invalid(
                    &format!("tests[{i}].name"),
                    "name a test the bundled list does not know",
                ));
            }
        };
        out.push(OrderedTest {
            code: code.as_str().to_owned(),
            name,
            unit: known.map(|k| k.unit.to_owned()).filter(|u| !u.is_empty()),
        });
    }
    Ok(out)
}

/// `POST /lab-orders`: a doctor of the patient's hospital orders tests.
pub async fn create<P: Ports>(
    ports: &P,
    staff: &Staff,
    input: NewOrder,
) -> Result<LabOrder, DomainError> {
    if staff.role != Role::Doctor {
        return Err(DomainError::Forbidden);
    }
    let hospital_id = staff.hospital_id.clone().ok_or(DomainError::Forbidden)?;
    let patient_id = input.patient_id.trim().to_owned();
    if !haven_kernel::ids::is_valid_id(&patient_id) {
        return Err(DomainError::invalid("patient_id", "not a patient id"));
    }
    let tests = checked_tests(input.tests)?;
    let specimen_type = optional_text(input.specimen_type, "specimen_type", 100)?;
    let clinical_notes = optional_text(input.clinical_notes, "clinical_notes", NOTES_MAX)?;
    let prescription_id = match input.prescription_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(id) if haven_kernel::ids::is_valid_id(id) => Some(id.to_owned()),
        Some(_) => {
            return Err(DomainError::invalid(
                "prescription_id",
                "not a prescription id",
            ));
        }
    };
    // The patient must be an active one of this doctor's hospital: checked in the write.
    let patient_ok = Condition::And(vec![
        Condition::equals(refs::PATIENT_HOSPITAL, Value::s(&hospital_id)),
        Condition::equals(refs::PATIENT_STATUS, Value::s(refs::PATIENT_ACTIVE)),
    ]);
    let order_id = ports.ids().next_id();
    let now = ports.clock().now().to_rfc3339();
    let details = Details {
        tests,
        specimen_type,
        clinical_notes,
    };
    let plain = zeroize::Zeroizing::new(serde_json::to_vec(&details).unwrap_or_default());
    let sealed = envelope::seal(
        ports.key_ring(),
        &context(&order_id, &hospital_id, &patient_id),
        &plain,
    )
    .await?;
    let order = LabOrder {
        order_id: order_id.clone(),
        patient_id: patient_id.clone(),
        hospital_id: hospital_id.clone(),
        ordered_by: staff.user_id.clone(),
        priority: input.priority,
        status: OrderStatus::Ordered,
        tests: details.tests,
        specimen_type: details.specimen_type,
        clinical_notes: details.clinical_notes,
        prescription_id,
        created_at: now.clone(),
        timeline: vec![Transition {
            status: OrderStatus::Ordered,
            at: now,
            by: staff.user_id.clone(),
        }],
        version: 1,
    };
    let mut item = to_item(&order);
    sealed.write_to(&mut item, SEALED);
    let ops = vec![
        haven_kernel::ports::TransactOp::Check {
            key: refs::patient_record(&patient_id),
            condition: patient_ok,
        },
        haven_kernel::ports::TransactOp::Put {
            item,
            condition: Some(Condition::item_absent()),
        },
    ];
    match ports.table().transact_write(ops).await {
        Ok(()) => Ok(order),
        Err(haven_kernel::ports::TableError::TransactionCanceled(_)) => Err(DomainError::invalid(
            "patient_id",
            "no active patient of your hospital has this id",
        )),
        Err(e) => Err(e.into()),
    }
}

fn to_item(order: &LabOrder) -> Item {
    let mut item = Item::new(&key(&order.order_id))
        .with("kind", Value::s("lab_order"))
        .with("order_id", Value::s(&order.order_id))
        .with("patient_id", Value::s(&order.patient_id))
        .with("hospital_id", Value::s(&order.hospital_id))
        .with("ordered_by", Value::s(&order.ordered_by))
        .with(
            "priority",
            Value::s(
                serde_json::to_value(order.priority)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
            ),
        )
        .with("status", Value::s(order.status.as_str()))
        .with("created_at", Value::s(&order.created_at))
        .with(
            "timeline",
            Value::s(serde_json::to_string(&order.timeline).unwrap_or_default()),
        )
        .with("version", Value::n(order.version))
        .with("gsi1pk", Value::s(list_partition(&order.hospital_id)))
        .with(
            "gsi1sk",
            Value::s(format!("{}#{}", order.created_at, order.order_id)),
        );
    if let Some(p) = &order.prescription_id {
        item.set("prescription_id", Value::s(p));
    }
    item
}

async fn from_item<P: Ports>(ports: &P, item: &Item) -> Result<LabOrder, DomainError> {
    let text = |name: &str| {
        item.s(name)
            .map(str::to_owned)
            .ok_or(DomainError::Unreadable)
    };
    let (order_id, hospital_id, patient_id) =
        (text("order_id")?, text("hospital_id")?, text("patient_id")?);
    let sealed = Envelope::read_from(item, SEALED).ok_or(DomainError::Unreadable)?;
    let plain = envelope::open(
        ports.key_ring(),
        &context(&order_id, &hospital_id, &patient_id),
        &sealed,
    )
    .await?;
    let details: Details = serde_json::from_slice(&plain).map_err(|_| DomainError::Unreadable)?;
    let priority: Priority = serde_json::from_value(serde_json::Value::String(text("priority")?))
        .map_err(|_| DomainError::Unreadable)?;
    Ok(LabOrder {
        status: OrderStatus::parse(&text("status")?).ok_or(DomainError::Unreadable)?,
        ordered_by: text("ordered_by")?,
        created_at: text("created_at")?,
        timeline: serde_json::from_str(&text("timeline")?).map_err(|_| DomainError::Unreadable)?,
        version: item.i64("version").unwrap_or(0),
        prescription_id: item.s("prescription_id").map(str::to_owned),
        tests: details.tests,
        specimen_type: details.specimen_type,
        clinical_notes: details.clinical_notes,
        priority,
        order_id,
        hospital_id,
        patient_id,
    })
}

/// `GET /lab-orders/{id}`.
pub async fn read<P: Ports>(
    ports: &P,
    staff: &Staff,
    order_id: &str,
) -> Result<LabOrder, DomainError> {
    let missing = || DomainError::NotFound("lab order".into());
    if !haven_kernel::ids::is_valid_id(order_id) {
        return Err(missing());
    }
    let item = ports
        .table()
        .get(&key(order_id))
        .await?
        .ok_or_else(missing)?;
    staff.may_read(item.s("hospital_id").unwrap_or_default())?;
    from_item(ports, &item).await
}

/// What a list is narrowed to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub patient_id: Option<String>,
    pub status: Option<OrderStatus>,
    pub priority: Option<Priority>,
    pub ordered_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderPage {
    pub orders: Vec<LabOrder>,
    pub next_cursor: Option<String>,
}

/// `GET /lab-orders`: the caller's hospital's orders, newest first, narrowed by `filter`.
pub async fn list<P: Ports>(
    ports: &P,
    staff: &Staff,
    filter: &Filter,
    limit: u32,
    cursor: Option<Cursor>,
) -> Result<OrderPage, DomainError> {
    let hospital_id = staff.hospital_id.clone().ok_or(DomainError::Forbidden)?;
    staff.may_read(&hospital_id)?;
    let page = ports
        .table()
        .query(
            Query::partition(list_partition(&hospital_id))
                .on(Index::Gsi1)
                .backward()
                .limit(limit.clamp(1, 100))
                .after(cursor),
        )
        .await?;
    let wanted = |item: &Item| {
        filter
            .patient_id
            .as_deref()
            .is_none_or(|p| item.s("patient_id") == Some(p))
            && filter
                .status
                .is_none_or(|s| item.s("status") == Some(s.as_str()))
            && filter
                .ordered_by
                .as_deref()
                .is_none_or(|d| item.s("ordered_by") == Some(d))
            && filter.priority.is_none_or(|p| {
                serde_json::to_value(p)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .as_deref()
                    == item.s("priority")
            })
    };
    let mut orders = Vec::new();
    for item in page.items.iter().filter(|i| wanted(i)) {
        orders.push(from_item(ports, item).await?);
    }
    Ok(OrderPage {
        orders,
        next_cursor: page.cursor.map(|c| c.as_str().to_owned()),
    })
}

/// `PUT /lab-orders/{id}/status`: one move, by the one who may make it, on the version read.
pub async fn move_to<P: Ports>(
    ports: &P,
    staff: &Staff,
    order_id: &str,
    to: OrderStatus,
) -> Result<LabOrder, DomainError> {
    let mut order = read(ports, staff, order_id).await?;
    let who = Mover {
        role: staff.role,
        ordered_it: order.ordered_by == staff.user_id,
    };
    status::check_move(order.status, to, who)?;
    let at = ports.clock().now().to_rfc3339();
    order.timeline.push(Transition {
        status: to,
        at,
        by: staff.user_id.clone(),
    });
    let update = Update::new()
        .set("status", Value::s(to.as_str()))
        .set(
            "timeline",
            Value::s(serde_json::to_string(&order.timeline).unwrap_or_default()),
        )
        .add("version", 1);
    ports
        .table()
        .update(
            &key(order_id),
            update,
            Some(Condition::version_is(order.version)),
        )
        .await
        .map_err(|e| match e {
            haven_kernel::ports::TableError::ConditionFailed => DomainError::Conflict {
                message: "the order was changed meanwhile; read it again".into(),
                current: None,
            },
            other => other.into(),
        })?;
    order.status = to;
    order.version += 1;
    Ok(order)
}

#[cfg(test)]
mod tests;
