//! Keys of records that one context checks another's by: the narrow, documented references
//! between contexts. A context that only needs to know that a record exists (identity: that
//! a staff account's hospital is registered) uses the key here, and never the owning
//! context's types.

use crate::item::Key;

/// The profile item of a hospital (owned by the hospitals context).
pub fn hospital_profile(hospital_id: &str) -> Key {
    Key::new(format!("HOSPITAL#{hospital_id}"), "PROFILE")
}

/// The attribute of a hospital's profile item that holds its registered name (read by the
/// patients context for a hospital's MRN prefix).
pub const HOSPITAL_NAME: &str = "name";

/// A person's emergency alerts (owned by the emergencies context), on gsi1: the partition
/// of user `user_id`'s alerts, each sorted by [`alert_sort`]. Read by the patients context
/// for a patient's medical history.
pub fn user_alerts_partition(user_id: &str) -> String {
    format!("USER#{user_id}#ALERTS")
}

/// An alert's place in its user's list and in a hospital's: `{created_at}#{alert_id}`.
pub fn alert_sort(created_at: &str, alert_id: &str) -> String {
    format!("{created_at}#{alert_id}")
}

/// The record that an alert was routed to a hospital (owned by the emergencies context),
/// holding [`ALERT_ID`] and [`ROUTED_AT`]. Its presence is the fact that this hospital was
/// asked to take the alert.
pub fn hospital_alert_routing(hospital_id: &str, sort: &str) -> Key {
    Key::new(format!("HOSPITAL#{hospital_id}"), format!("ALERT#{sort}"))
}

/// The attribute of an alert item and a routing record that holds the alert's id.
pub const ALERT_ID: &str = "alert_id";
/// The attribute of an alert item that holds its status (`triggered`, `acknowledged`…).
pub const ALERT_STATUS: &str = "status";
/// The attribute of an alert item that holds its emergency type (`cardiac`, `trauma`…).
pub const ALERT_KIND: &str = "emergency_type";
/// The attribute of a routing record that holds when the alert was routed there.
pub const ROUTED_AT: &str = "routed_at";

/// A hospital's patient record (owned by the patients context), holding [`PATIENT_HOSPITAL`]
/// and [`PATIENT_STATUS`] in plain attributes (ids and a state, never personal data). Read by
/// other contexts to check that a patient is one of a hospital's, and active.
pub fn patient_record(patient_id: &str) -> Key {
    Key::new(format!("PATIENT#{patient_id}"), "PATIENT")
}

/// The attribute of a patient record naming the hospital it belongs to.
pub const PATIENT_HOSPITAL: &str = "hospital_id";
/// The attribute of a patient record holding its state; [`PATIENT_ACTIVE`] while it is in use.
pub const PATIENT_STATUS: &str = "status";
pub const PATIENT_ACTIVE: &str = "active";
