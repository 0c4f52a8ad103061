//! The patients context: a hospital's register of its patients. Records belong to a
//! hospital, carry the hospital's MRN (`mrn`), and are sealed whole under their own data key
//! (`store`); staff find them through keyed blind-index tokens (`search`), never plaintext.
//! Who may see what is `access`; the use cases are `registry` and `search`.
//!
//! It stands on the kernel alone: it reads no other context's types. The one outside record
//! it reads is a hospital's registered name (for the MRN prefix), through
//! `haven_kernel::refs`.

pub mod access;
pub mod adt;
pub mod documents;
pub mod fhir;
pub mod identifiers;
pub mod mrn;
pub mod names;
pub mod record;
pub mod registry;
pub mod search;
pub mod store;

pub use access::{Purpose, Staff, View};
pub use record::{PatientDetails, PatientInput};
