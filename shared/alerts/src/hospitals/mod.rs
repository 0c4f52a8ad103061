//! The hospitals context: profiles and capacity, the geohash search, ranking, and import.

pub mod capability;
pub mod import;
pub mod manage;
pub mod profile;
pub mod ranking;
pub mod search;

pub use profile::{BedCount, CapacityState, Channel, EdStatus, FacilityType, Hospital};
