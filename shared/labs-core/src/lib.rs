//! The labs context: lab orders for a hospital's patients, coded in LOINC (`loinc`), and their
//! results as laboratories send them, HL7 v2.5 ORU^R01 read by `oru` on `haven-hl7`; an
//! order's life and who may move it is `status`. Numbers
//! are exact decimals (`decimal`), never floats.
//!
//! It stands on the kernel and the HL7 parser; it reaches the patients context only through
//! the keys that context publishes.

pub mod decimal;
pub mod loinc;
pub mod orders;
pub mod oru;
pub mod status;
