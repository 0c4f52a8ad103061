//! The emergencies context: the alert lifecycle, from one tap to a closed case.

pub mod alert;
pub mod handoff;
pub mod lifecycle;
pub mod priority;
pub mod store;
pub mod trigger;
pub mod view;

pub use alert::{Alert, EmergencyType, Priority, Status};
