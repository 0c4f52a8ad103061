//! Any bytes: parsed as HL7, then read as an ORU^R01. Neither may panic, and a read that
//! succeeds has a patient and at least one order.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = haven_hl7::Message::parse(data)
        && let Ok(read) = haven_labs_core::oru::read(&message)
    {
        assert!(!read.patient.identifiers.is_empty());
        assert!(!read.groups.is_empty());
    }
});
