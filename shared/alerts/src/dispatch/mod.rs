//! dispatch: the ambulance fleet. Units, their crews and capabilities, the status lifecycle
//! (available → dispatched → en_route → on_scene → transporting → at_hospital → available),
//! proposing the nearest suitable unit for an alert, and assigning one.

pub mod ambulance;
pub mod fleet;

pub use ambulance::{Ambulance, Capability, Fix, UnitStatus};
