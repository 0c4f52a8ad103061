//! The alert core: the contexts of Haven's reason to exist. A person's emergency
//! (`emergencies`), the hospitals that can take it (`hospitals`), telling them (`comms`),
//! the ambulance (`dispatch`) and its live position (`tracking`), and the patient's own
//! medical profile (`medical`). They call each other; docs/architecture.md ("The alert
//! core") writes down the direction of each call. It stands on the kernel and identity.
//!
//! Nothing here knows about AWS, HTTP or Lambda.

pub mod comms;
pub mod dispatch;
pub mod emergencies;
pub mod hospitals;
pub mod medical;
pub mod tracking;
