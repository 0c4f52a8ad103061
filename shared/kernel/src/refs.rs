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
