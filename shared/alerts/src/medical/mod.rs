//! The medical context: the patient's own emergency profile, sealed; erasure; break-glass
//! reads by the hospital treating them; FHIR export.

pub mod fhir;
pub mod profile;
pub mod records;

pub use profile::MedicalProfile;
