//! Who a caller is to Haven. Staff roles belong to one hospital.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Patient,
    /// Ambulance crew.
    Responder,
    Dispatcher,
    Nurse,
    Doctor,
    LabTech,
    Pharmacist,
    HospitalAdmin,
    SystemAdmin,
}

impl Role {
    pub const ALL: [Role; 9] = [
        Role::Patient,
        Role::Responder,
        Role::Dispatcher,
        Role::Nurse,
        Role::Doctor,
        Role::LabTech,
        Role::Pharmacist,
        Role::HospitalAdmin,
        Role::SystemAdmin,
    ];

    /// Staff of a hospital: their permissions are scoped to it.
    pub fn is_hospital_staff(self) -> bool {
        matches!(
            self,
            Role::Nurse | Role::Doctor | Role::LabTech | Role::Pharmacist | Role::HospitalAdmin
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Patient => "patient",
            Role::Responder => "responder",
            Role::Dispatcher => "dispatcher",
            Role::Nurse => "nurse",
            Role::Doctor => "doctor",
            Role::LabTech => "lab_tech",
            Role::Pharmacist => "pharmacist",
            Role::HospitalAdmin => "hospital_admin",
            Role::SystemAdmin => "system_admin",
        }
    }
}
