//! Who may do what with a hospital's patient records. A record belongs to its hospital: its
//! nurses, doctors and admin read and change it, its lab technicians see the name and MRN
//! only, a system admin manages any. Staff of another hospital are told it does not exist
//! (404), and every other role is refused (403).

use haven_kernel::{DomainError, Role};

/// The caller, as the patients context needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staff {
    pub user_id: String,
    pub role: Role,
    pub hospital_id: Option<String>,
}

/// How much of a record a reader sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Full,
    /// Name and MRN: what a lab needs to label a specimen.
    NameOnly,
}

impl Staff {
    fn own_hospital(&self, hospital_id: &str) -> bool {
        self.hospital_id.as_deref() == Some(hospital_id)
    }

    /// What this caller sees of a record of `hospital_id`, or why not.
    pub fn view_of(&self, hospital_id: &str) -> Result<View, DomainError> {
        match self.role {
            Role::SystemAdmin => Ok(View::Full),
            Role::Nurse | Role::Doctor | Role::HospitalAdmin if self.own_hospital(hospital_id) => {
                Ok(View::Full)
            }
            Role::LabTech if self.own_hospital(hospital_id) => Ok(View::NameOnly),
            // Another hospital's record is none of theirs, not even its existence.
            r if r.is_hospital_staff() && r != Role::Pharmacist => {
                Err(DomainError::NotFound("patient".into()))
            }
            _ => Err(DomainError::Forbidden),
        }
    }

    /// Registering and changing records: clinical staff and admins.
    pub fn may_write(&self) -> Result<(), DomainError> {
        match self.role {
            Role::Nurse | Role::Doctor | Role::HospitalAdmin | Role::SystemAdmin => Ok(()),
            _ => Err(DomainError::Forbidden),
        }
    }

    /// Deleting and restoring: the hospital's admin, or a system admin.
    pub fn may_restore(&self) -> bool {
        matches!(self.role, Role::HospitalAdmin | Role::SystemAdmin)
    }

    /// The hospital a new record belongs to: the caller's own, or for a system admin the one
    /// named (`hospital_id`).
    pub fn hospital_to_write(&self, named: Option<&str>) -> Result<String, DomainError> {
        self.may_write()?;
        self.hospital_to_read(named)
    }

    /// The hospital whose records a list or search covers.
    pub fn hospital_to_read(&self, named: Option<&str>) -> Result<String, DomainError> {
        let named = named.map(str::trim).filter(|h| !h.is_empty());
        match (self.role, named, self.hospital_id.as_deref()) {
            (Role::SystemAdmin, Some(h), _) if haven_kernel::ids::is_valid_id(h) => {
                Ok(h.to_owned())
            }
            (Role::SystemAdmin, Some(_), _) => Err(DomainError::invalid(
                "hospital_id",
                "not the id of a hospital",
            )),
            (Role::SystemAdmin, None, _) => Err(DomainError::invalid(
                "hospital_id",
                "a system admin names the hospital (hospital_id)",
            )),
            (_, Some(h), Some(own)) if h != own => {
                self.view_of(h)?;
                Ok(h.to_owned())
            }
            (_, _, Some(own)) => {
                self.view_of(own)?;
                Ok(own.to_owned())
            }
            (_, _, None) => Err(DomainError::Forbidden),
        }
    }
}

/// Why a record is opened, as the audit trail records it (HL7's PurposeOfUse, in words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Treatment,
    Emergency,
    Payment,
    Operations,
    Legal,
    PatientRequest,
}

impl Purpose {
    pub const ALL: [Purpose; 6] = [
        Purpose::Treatment,
        Purpose::Emergency,
        Purpose::Payment,
        Purpose::Operations,
        Purpose::Legal,
        Purpose::PatientRequest,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Treatment => "treatment",
            Purpose::Emergency => "emergency",
            Purpose::Payment => "payment",
            Purpose::Operations => "operations",
            Purpose::Legal => "legal",
            Purpose::PatientRequest => "patient_request",
        }
    }

    /// The purpose named by a query parameter or header; `treatment` when none is.
    pub fn parse(given: Option<&str>) -> Result<Purpose, DomainError> {
        match given.map(str::trim).filter(|p| !p.is_empty()) {
            None => Ok(Purpose::Treatment),
            Some(p) => Purpose::ALL
                .into_iter()
                .find(|x| x.as_str().eq_ignore_ascii_case(p))
                .ok_or_else(|| {
                    DomainError::invalid(
                        "purpose",
                        "one of treatment, emergency, payment, operations, legal, patient_request",
                    )
                }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staff(role: Role, hospital: Option<&str>) -> Staff {
        Staff {
            user_id: "u1".into(),
            role,
            hospital_id: hospital.map(str::to_owned),
        }
    }

    #[test]
    fn the_role_matrix() {
        let h = "h1";
        for role in [Role::Nurse, Role::Doctor, Role::HospitalAdmin] {
            assert_eq!(staff(role, Some(h)).view_of(h), Ok(View::Full));
            assert!(matches!(
                staff(role, Some("h2")).view_of(h),
                Err(DomainError::NotFound(_))
            ));
        }
        assert_eq!(staff(Role::LabTech, Some(h)).view_of(h), Ok(View::NameOnly));
        assert!(staff(Role::LabTech, Some(h)).may_write().is_err());
        assert_eq!(staff(Role::SystemAdmin, None).view_of(h), Ok(View::Full));
        for role in [
            Role::Patient,
            Role::Responder,
            Role::Dispatcher,
            Role::Pharmacist,
        ] {
            assert_eq!(
                staff(role, Some(h)).view_of(h),
                Err(DomainError::Forbidden),
                "{role:?}"
            );
        }
        assert!(staff(Role::HospitalAdmin, Some(h)).may_restore());
        assert!(!staff(Role::Doctor, Some(h)).may_restore());
    }

    #[test]
    fn which_hospital_a_request_covers() {
        assert_eq!(
            staff(Role::Nurse, Some("h1")).hospital_to_read(None),
            Ok("h1".into())
        );
        assert!(matches!(
            staff(Role::Nurse, Some("h1")).hospital_to_read(Some("h2")),
            Err(DomainError::NotFound(_))
        ));
        let e = staff(Role::SystemAdmin, None)
            .hospital_to_write(None)
            .expect_err("needs a hospital");
        assert_eq!(e.field(), Some("hospital_id"));
        assert_eq!(
            staff(Role::SystemAdmin, None).hospital_to_write(Some("h9")),
            Ok("h9".into())
        );
    }

    #[test]
    fn purposes_default_to_treatment() {
        assert_eq!(Purpose::parse(None), Ok(Purpose::Treatment));
        assert_eq!(Purpose::parse(Some("Emergency")), Ok(Purpose::Emergency));
        assert_eq!(
            Purpose::parse(Some("curiosity"))
                .expect_err("refused")
                .field(),
            Some("purpose")
        );
    }
}
