//! The hospitals context: profiles and capacity, the in-memory directory and its search,
//! ranking, and import.

pub mod capability;
pub mod directory;
pub mod import;
pub mod manage;
pub mod profile;
pub mod ranking;
pub mod search;

pub use profile::{BedCount, CapacityState, Channel, EdStatus, FacilityType, Hospital};
