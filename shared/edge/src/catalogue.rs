//! The route catalogue: every HTTP route, WebSocket route and queue worker of Haven, with the
//! function that serves it and who may call it. `template.yaml`, `docs/openapi.yaml`, the
//! local gateway and `events/` are all checked against this one list.

use std::collections::HashMap;

use haven_kernel::Role;

/// Who may call a route. Checked by the edge before the handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without a token (health, login, JWKS).
    Public,
    /// A signed-in caller holding one of these roles; the handler then checks object scope
    /// (ownership, hospital).
    Roles(&'static [Role]),
    /// As `Roles`, and also an emergency bypass token (which acts as a patient).
    RolesOrBypass(&'static [Role]),
}

/// Every role: any signed-in person.
pub const ANYONE_SIGNED_IN: &[Role] = &Role::ALL;
/// Those who manage accounts.
pub const ACCOUNT_ADMINS: &[Role] = &[Role::SystemAdmin, Role::HospitalAdmin];
/// Those who work on alerts: the person in distress, crews, dispatchers, and the clinical
/// staff of the hospitals an alert is routed to (object scope is checked per alert).
pub const ALERT_VIEWERS: &[Role] = &[
    Role::Patient,
    Role::Responder,
    Role::Dispatcher,
    Role::Nurse,
    Role::Doctor,
    Role::HospitalAdmin,
];
/// Those who see lists of alerts (crews see theirs through their assignments).
pub const ALERT_LISTERS: &[Role] = &[
    Role::Patient,
    Role::Dispatcher,
    Role::Nurse,
    Role::Doctor,
    Role::HospitalAdmin,
];
/// The staff who report a hospital's capacity (scoped to their own hospital).
pub const CAPACITY_REPORTERS: &[Role] = HOSPITAL_STAFF;
/// Those who register units: dispatch, and a hospital's admin for its own fleet.
pub const FLEET_MANAGERS: &[Role] = &[Role::Dispatcher, Role::HospitalAdmin, Role::SystemAdmin];
/// Those who see units (crews see their own).
pub const FLEET_READERS: &[Role] = &[
    Role::Dispatcher,
    Role::HospitalAdmin,
    Role::SystemAdmin,
    Role::Responder,
];
/// Those who report where a unit is and what it is doing: its crew, and dispatchers.
pub const UNIT_REPORTERS: &[Role] = &[Role::Responder, Role::Dispatcher];
/// A hospital's clinical and administrative staff (scoped to their own hospital).
pub const HOSPITAL_STAFF: &[Role] = &[Role::Nurse, Role::Doctor, Role::HospitalAdmin];

/// Those who read a hospital's patient records (scope and the lab's narrower view are checked
/// per record). Delete and restore reach the handler for these too, so that staff of another
/// hospital get 404 before a role is refused.
pub const PATIENT_READERS: &[Role] = &[
    Role::Nurse,
    Role::Doctor,
    Role::LabTech,
    Role::HospitalAdmin,
    Role::SystemAdmin,
];
/// Those who register patients and change their details.
pub const PATIENT_WRITERS: &[Role] = &[
    Role::Nurse,
    Role::Doctor,
    Role::HospitalAdmin,
    Role::SystemAdmin,
];

/// Those who see a hospital's lab orders: its clinical staff, its lab and its admin.
pub const LAB_READERS: &[Role] = &[
    Role::Doctor,
    Role::Nurse,
    Role::LabTech,
    Role::HospitalAdmin,
];
/// Those who move a lab order: the lab, the ordering doctor, the hospital's admin (the
/// handler checks which move is whose).
pub const LAB_MOVERS: &[Role] = &[Role::Doctor, Role::LabTech, Role::HospitalAdmin];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpRoute {
    pub method: &'static str,
    /// The full path with `{name}` parameters, as API Gateway writes it.
    pub path: &'static str,
    /// The Lambda function (and binary) serving the route.
    pub function: &'static str,
    pub access: Access,
    pub summary: &'static str,
}

/// A route of the WebSocket API, selected by `$request.body.action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketRoute {
    pub route_key: &'static str,
    pub function: &'static str,
}

/// A function fed by a queue (the SQS event source on AWS, the gateway's poller locally).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueWorker {
    pub queue: &'static str,
    pub function: &'static str,
    pub batch_size: u32,
}

const fn route(
    method: &'static str,
    path: &'static str,
    function: &'static str,
    access: Access,
    summary: &'static str,
) -> HttpRoute {
    HttpRoute {
        method,
        path,
        function,
        access,
        summary,
    }
}

pub const CATALOGUE: &[HttpRoute] = &[
    // ops
    route(
        "GET",
        "/api/v1/health",
        "health",
        Access::Public,
        "Liveness and readiness in one report",
    ),
    route(
        "GET",
        "/api/v1/health/live",
        "health-live",
        Access::Public,
        "The process is up",
    ),
    route(
        "GET",
        "/api/v1/health/ready",
        "health-ready",
        Access::Public,
        "The table and queues answer",
    ),
    // identity
    route(
        "POST",
        "/api/v1/auth/register",
        "auth-register",
        Access::Public,
        "A patient creates an account",
    ),
    route(
        "POST",
        "/api/v1/auth/login",
        "auth-login",
        Access::Public,
        "Sign in with email and password",
    ),
    route(
        "POST",
        "/api/v1/auth/verify",
        "auth-verify",
        Access::Public,
        "Second step of a login that needs MFA",
    ),
    route(
        "POST",
        "/api/v1/auth/refresh",
        "auth-refresh",
        Access::Public,
        "Swap a refresh token for a new pair",
    ),
    route(
        "POST",
        "/api/v1/auth/logout",
        "auth-logout",
        Access::Public,
        "End the session of a refresh token",
    ),
    route(
        "GET",
        "/api/v1/auth/me",
        "auth-me",
        Access::Roles(ANYONE_SIGNED_IN),
        "The signed-in account",
    ),
    route(
        "POST",
        "/api/v1/auth/mfa/enable",
        "auth-mfa-enable",
        Access::Roles(ANYONE_SIGNED_IN),
        "Start MFA enrolment",
    ),
    route(
        "POST",
        "/api/v1/auth/mfa/verify",
        "auth-mfa-verify",
        Access::Roles(ANYONE_SIGNED_IN),
        "Confirm MFA enrolment with a code",
    ),
    route(
        "POST",
        "/api/v1/auth/emergency-bypass",
        "auth-emergency-bypass",
        Access::Public,
        "An emergency token without a login",
    ),
    route(
        "GET",
        "/api/v1/users",
        "users-list",
        Access::Roles(ACCOUNT_ADMINS),
        "Accounts an admin manages",
    ),
    route(
        "POST",
        "/api/v1/users",
        "users-create",
        Access::Roles(ACCOUNT_ADMINS),
        "An admin creates an account",
    ),
    route(
        "GET",
        "/api/v1/users/{id}",
        "users-get",
        Access::Roles(ACCOUNT_ADMINS),
        "One managed account",
    ),
    route(
        "PUT",
        "/api/v1/users/{id}",
        "users-update",
        Access::Roles(ACCOUNT_ADMINS),
        "Change a managed account",
    ),
    route(
        "DELETE",
        "/api/v1/users/{id}",
        "users-delete",
        Access::Roles(ACCOUNT_ADMINS),
        "Delete a managed account",
    ),
    // emergencies
    route(
        "POST",
        "/api/v1/emergency/alert",
        "emergency-alert",
        Access::RolesOrBypass(&[Role::Patient]),
        "Raise an emergency alert",
    ),
    route(
        "GET",
        "/api/v1/emergency/{alert_id}/status",
        "emergency-status",
        Access::RolesOrBypass(ALERT_VIEWERS),
        "An alert with its hospitals and timeline",
    ),
    route(
        "PUT",
        "/api/v1/emergency/{alert_id}/location",
        "emergency-location",
        Access::RolesOrBypass(&[Role::Patient]),
        "The person's current position",
    ),
    route(
        "POST",
        "/api/v1/emergency/{alert_id}/cancel",
        "emergency-cancel",
        Access::RolesOrBypass(&[Role::Patient, Role::Dispatcher]),
        "Cancel an alert",
    ),
    route(
        "POST",
        "/api/v1/emergency/{alert_id}/verify",
        "emergency-verify",
        Access::RolesOrBypass(&[Role::Patient, Role::Dispatcher]),
        "Second factor of a low-trust alert",
    ),
    route(
        "GET",
        "/api/v1/emergency/history",
        "emergency-history",
        Access::Roles(ALERT_LISTERS),
        "Alerts, newest first",
    ),
    // medical
    route(
        "POST",
        "/api/v1/medical-profile",
        "medical-profile-create",
        Access::Roles(&[Role::Patient]),
        "Create your medical profile",
    ),
    route(
        "GET",
        "/api/v1/medical-profile",
        "medical-profile-get",
        Access::Roles(&[Role::Patient]),
        "Your medical profile, with its ETag",
    ),
    route(
        "PUT",
        "/api/v1/medical-profile",
        "medical-profile-update",
        Access::Roles(&[Role::Patient]),
        "Replace your medical profile (If-Match)",
    ),
    route(
        "DELETE",
        "/api/v1/medical-profile",
        "medical-profile-delete",
        Access::Roles(&[Role::Patient]),
        "Erase your medical profile",
    ),
    route(
        "GET",
        "/api/v1/medical-profile/fhir",
        "medical-profile-fhir",
        Access::Roles(&[Role::Patient]),
        "Your medical profile as a FHIR R4 Bundle",
    ),
    route(
        "GET",
        "/api/v1/medical-profile/access-log",
        "medical-profile-access-log",
        Access::Roles(&[Role::Patient]),
        "Who read or changed your medical profile",
    ),
    route(
        "GET",
        "/api/v1/emergency/{alert_id}/medical-profile",
        "emergency-medical-profile",
        // Every role reaches the handler so that each refusal is audited under the patient.
        Access::Roles(ANYONE_SIGNED_IN),
        "Break-glass read of the patient's profile by the treating hospital",
    ),
    // patients
    route(
        "POST",
        "/api/v1/patients",
        "patients-create",
        Access::Roles(PATIENT_WRITERS),
        "Register a patient of your hospital (the next MRN)",
    ),
    route(
        "GET",
        "/api/v1/patients",
        "patients-list",
        Access::Roles(PATIENT_READERS),
        "Your hospital's patients, newest first (status=deleted for admins)",
    ),
    route(
        "GET",
        "/api/v1/patients/search",
        "patients-search",
        Access::Roles(PATIENT_READERS),
        "Find patients by name prefix, MRN, phone, email or identifier",
    ),
    route(
        "POST",
        "/api/v1/patients/hl7/import",
        "patients-hl7-import",
        Access::Roles(PATIENT_WRITERS),
        "Import HL7 v2 ADT^A04/A08/A40; answers with an HL7 ACK",
    ),
    route(
        "GET",
        "/api/v1/patients/{patient_id}",
        "patients-get",
        Access::Roles(PATIENT_READERS),
        "A patient record, with its ETag",
    ),
    route(
        "PUT",
        "/api/v1/patients/{patient_id}",
        "patients-update",
        Access::Roles(PATIENT_WRITERS),
        "Replace a patient's details (If-Match)",
    ),
    route(
        "DELETE",
        "/api/v1/patients/{patient_id}",
        "patients-delete",
        Access::Roles(PATIENT_READERS),
        "Delete a patient record (restorable for 30 days)",
    ),
    route(
        "POST",
        "/api/v1/patients/{patient_id}/restore",
        "patients-restore",
        Access::Roles(PATIENT_READERS),
        "Restore a deleted patient record",
    ),
    route(
        "GET",
        "/api/v1/patients/{patient_id}/fhir",
        "patients-fhir",
        Access::Roles(PATIENT_READERS),
        "A patient as a FHIR R4 Patient (Kenya Core identifiers), or a Bundle with _include=everything",
    ),
    route(
        "POST",
        "/api/v1/patients/{patient_id}/documents",
        "patients-documents-create",
        Access::Roles(PATIENT_WRITERS),
        "Add a document (scan, PDF, image up to 20 MB): answers with a signed upload URL",
    ),
    route(
        "GET",
        "/api/v1/patients/{patient_id}/documents",
        "patients-documents-list",
        Access::Roles(PATIENT_READERS),
        "A patient's documents, each checked one with a short-lived download URL",
    ),
    route(
        "GET",
        "/api/v1/patients/{patient_id}/medical-history",
        "patients-history",
        Access::Roles(PATIENT_READERS),
        "What happened to a patient's record, newest first",
    ),
    // labs
    route(
        "POST",
        "/api/v1/lab-orders",
        "labs-orders-create",
        Access::Roles(&[Role::Doctor]),
        "Order LOINC-coded tests for a patient of your hospital",
    ),
    route(
        "GET",
        "/api/v1/lab-orders",
        "labs-orders-list",
        Access::Roles(LAB_READERS),
        "Your hospital's lab orders, newest first (patient_id, status, priority, ordered_by)",
    ),
    route(
        "GET",
        "/api/v1/lab-orders/{order_id}",
        "labs-orders-get",
        Access::Roles(LAB_READERS),
        "A lab order with its tests and timeline",
    ),
    route(
        "PUT",
        "/api/v1/lab-orders/{order_id}/status",
        "labs-orders-status",
        Access::Roles(LAB_MOVERS),
        "Move a lab order (lab: in_progress, completed; ordering doctor: reviewed)",
    ),
    // hospitals
    route(
        "GET",
        "/api/v1/hospitals/nearby",
        "hospitals-nearby",
        Access::RolesOrBypass(ANYONE_SIGNED_IN),
        "Ranked hospitals near a point",
    ),
    route(
        "POST",
        "/api/v1/hospitals",
        "hospitals-create",
        Access::Roles(&[Role::SystemAdmin]),
        "Register a hospital",
    ),
    route(
        "PUT",
        "/api/v1/hospitals/{id}",
        "hospitals-update",
        Access::Roles(&[Role::SystemAdmin, Role::HospitalAdmin]),
        "Change a hospital's profile",
    ),
    route(
        "GET",
        "/api/v1/hospitals/{id}/capabilities",
        "hospitals-capabilities",
        Access::Roles(ANYONE_SIGNED_IN),
        "What a hospital treats and has room for",
    ),
    route(
        "POST",
        "/api/v1/hospitals/{id}/availability",
        "hospitals-availability",
        Access::Roles(CAPACITY_REPORTERS),
        "Report beds and emergency-department status",
    ),
    route(
        "POST",
        "/api/v1/hospitals/{id}/alert",
        "hospitals-route-alert",
        Access::Roles(&[Role::Dispatcher]),
        "A dispatcher sends an alert to this hospital",
    ),
    // comms
    route(
        "PUT",
        "/api/v1/hospitals/{id}/webhook",
        "comms-webhook-configure",
        Access::Roles(&[Role::SystemAdmin, Role::HospitalAdmin]),
        "Set where a hospital's alert deliveries go; returns the signing secret",
    ),
    route(
        "POST",
        "/api/v1/hospitals/{id}/webhook/rotate",
        "comms-webhook-rotate",
        Access::Roles(&[Role::SystemAdmin, Role::HospitalAdmin]),
        "A new signing secret; the old one signs too for a day",
    ),
    route(
        "POST",
        "/api/v1/hospital/comms/ack",
        "comms-ack",
        Access::Roles(HOSPITAL_STAFF),
        "A hospital accepts or declines an alert it was offered",
    ),
    route(
        "GET",
        "/api/v1/hospital/comms/ack/{token}",
        "comms-ack-link",
        // The token is the credential: it was sent to that hospital's desk.
        Access::Public,
        "What an acknowledgement link answers",
    ),
    route(
        "POST",
        "/api/v1/hospital/comms/ack/{token}",
        "comms-ack-link-answer",
        Access::Public,
        "Accept or decline through an acknowledgement link",
    ),
    route(
        "POST",
        "/api/v1/hospital/comms/alert",
        "comms-alert",
        Access::Roles(&[Role::Dispatcher]),
        "Send an alert again, or to a chosen hospital",
    ),
    route(
        "POST",
        "/api/v1/hospital/comms/fallback",
        "comms-fallback",
        Access::Roles(&[Role::Dispatcher]),
        "Move an alert to its next fallback hospital now",
    ),
    route(
        "GET",
        "/api/v1/hospital/comms/status/{alert_id}",
        "comms-status",
        Access::Roles(&[
            Role::Dispatcher,
            Role::Nurse,
            Role::Doctor,
            Role::HospitalAdmin,
        ]),
        "Every offer, delivery and attempt of an alert",
    ),
    route(
        "POST",
        "/api/v1/ambulances",
        "ambulances-create",
        Access::Roles(FLEET_MANAGERS),
        "Register an ambulance: call sign, base, capabilities, crew",
    ),
    route(
        "GET",
        "/api/v1/ambulances",
        "ambulances-list",
        Access::Roles(FLEET_READERS),
        "The units the caller may see, by status",
    ),
    route(
        "GET",
        "/api/v1/ambulances/{ambulance_id}",
        "ambulances-get",
        Access::Roles(FLEET_READERS),
        "One unit: status, crew, last position",
    ),
    route(
        "POST",
        "/api/v1/ambulances/{ambulance_id}/assign",
        "ambulances-assign",
        Access::Roles(&[Role::Dispatcher]),
        "Send a unit to an alert",
    ),
    route(
        "POST",
        "/api/v1/ambulances/{ambulance_id}/position",
        "ambulances-position",
        Access::Roles(UNIT_REPORTERS),
        "A unit's position (geofences move its alert)",
    ),
    route(
        "POST",
        "/api/v1/ambulances/{ambulance_id}/status",
        "ambulances-status",
        Access::Roles(UNIT_REPORTERS),
        "Move a unit through its lifecycle",
    ),
    route(
        "GET",
        "/api/v1/emergency/{alert_id}/ambulances",
        "ambulances-propose",
        Access::Roles(&[Role::Dispatcher]),
        "The nearest suitable available units for an alert",
    ),
    route(
        "GET",
        "/api/v1/eta/{alert_id}",
        "tracking-eta",
        Access::RolesOrBypass(ALERT_VIEWERS),
        "Time left: unit to patient to hospital, leg by leg",
    ),
    route(
        "POST",
        "/api/v1/route/optimize",
        "tracking-route-optimize",
        Access::Roles(&[Role::Dispatcher]),
        "The unit and hospital soonest to definitive care",
    ),
    route(
        "GET",
        "/api/v1/emergency/{alert_id}/track",
        "tracking-track",
        Access::RolesOrBypass(ALERT_VIEWERS),
        "An alert's positions, patient's and unit's",
    ),
    route(
        "GET",
        "/.well-known/jwks.json",
        "jwks",
        Access::Public,
        "Public keys that verify Haven's tokens",
    ),
];

/// The declared access of a function (the fallback is public).
pub fn access_of(function: &str) -> Access {
    CATALOGUE
        .iter()
        .find(|r| r.function == function)
        .map(|r| r.access)
        .unwrap_or(Access::Public)
}

/// Serves every request no route matches (API Gateway's `$default` route), so unknown paths
/// and wrong methods get problem+json on AWS as they do locally.
pub const FALLBACK_FUNCTION: &str = "route-not-found";

/// The functions a person in distress waits on: raising the alert, a hospital's answer, and
/// the workers that tell hospitals. Each gets reserved concurrency on AWS, so a surge of
/// other traffic cannot starve it.
pub const ALERT_PATH: &[&str] = &[
    "emergency-alert",
    "comms-ack",
    "comms-ack-link-answer",
    "comms-webhook-worker",
    "comms-sms-worker",
    "comms-hospital-api-worker",
    "comms-deadline-worker",
    "comms-outbox-relay",
];

pub const SOCKET_ROUTES: &[SocketRoute] = &[
    SocketRoute {
        route_key: "$connect",
        function: "ws-connect",
    },
    SocketRoute {
        route_key: "$disconnect",
        function: "ws-disconnect",
    },
    SocketRoute {
        route_key: "$default",
        function: "ws-default",
    },
    SocketRoute {
        route_key: "subscribe",
        function: "ws-subscribe",
    },
    SocketRoute {
        route_key: "unsubscribe",
        function: "ws-unsubscribe",
    },
    SocketRoute {
        route_key: "location",
        function: "ws-location",
    },
];

const fn worker(queue: &'static str, function: &'static str) -> QueueWorker {
    QueueWorker {
        queue,
        function,
        batch_size: 10,
    }
}

pub const QUEUE_WORKERS: &[QueueWorker] = &[
    worker("webhook", "comms-webhook-worker"),
    worker("sms", "comms-sms-worker"),
    worker("hospital-api", "comms-hospital-api-worker"),
    worker("deadlines", "comms-deadline-worker"),
];

/// A function run on a schedule (EventBridge on AWS, a timer in the local gateway).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduledFunction {
    pub function: &'static str,
    /// How often, in the template's `rate(...)` terms.
    pub every_seconds: u64,
}

pub const SCHEDULED_FUNCTIONS: &[ScheduledFunction] = &[ScheduledFunction {
    function: "comms-outbox-relay",
    every_seconds: 60,
}];

/// Every function name of the platform, each once.
pub fn all_functions() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = CATALOGUE.iter().map(|r| r.function).collect();
    names.push(FALLBACK_FUNCTION);
    names.extend(SOCKET_ROUTES.iter().map(|r| r.function));
    names.extend(QUEUE_WORKERS.iter().map(|w| w.function));
    names.extend(SCHEDULED_FUNCTIONS.iter().map(|s| s.function));
    names.sort_unstable();
    names.dedup();
    names
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteMatch {
    Found {
        route: &'static HttpRoute,
        path_parameters: HashMap<String, String>,
    },
    /// The path exists, but not with this method.
    MethodNotAllowed {
        allowed: Vec<&'static str>,
    },
    NotFound,
}

/// Captures of `template` in `path`, or `None`; `{name}` matches one non-empty segment.
fn match_path(template: &str, path: &str) -> Option<HashMap<String, String>> {
    let mut params = HashMap::new();
    // No trailing-slash tolerance: API Gateway matches paths exactly, and locally must too.
    let mut t = template.split('/');
    let mut p = path.split('/');
    loop {
        match (t.next(), p.next()) {
            (None, None) => return Some(params),
            (Some(ts), Some(ps)) => {
                if let Some(name) = ts.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    if ps.is_empty() {
                        return None;
                    }
                    params.insert(name.to_owned(), ps.to_owned());
                } else if ts != ps {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

/// How many literal segments a template has: the more, the more specific
/// (`/patients/search` wins over `/patients/{id}`, as on API Gateway).
fn literal_segments(template: &str) -> usize {
    template.split('/').filter(|s| !s.starts_with('{')).count()
}

/// Finds the route for a request, API Gateway style.
pub fn match_route(method: &str, path: &str) -> RouteMatch {
    let mut best: Option<(&'static HttpRoute, HashMap<String, String>)> = None;
    let mut allowed = Vec::new();
    for route in CATALOGUE {
        let Some(params) = match_path(route.path, path) else {
            continue;
        };
        if route.method.eq_ignore_ascii_case(method) {
            let better = best
                .as_ref()
                .is_none_or(|(b, _)| literal_segments(route.path) > literal_segments(b.path));
            if better {
                best = Some((route, params));
            }
        } else {
            allowed.push(route.method);
        }
    }
    match best {
        Some((route, path_parameters)) => RouteMatch::Found {
            route,
            path_parameters,
        },
        None if !allowed.is_empty() => {
            allowed.sort_unstable();
            allowed.dedup();
            RouteMatch::MethodNotAllowed { allowed }
        }
        None => RouteMatch::NotFound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_unique_and_under_api_v1() {
        let mut seen = std::collections::HashSet::new();
        for r in CATALOGUE {
            assert!(
                r.path.starts_with("/api/v1/") || r.path.starts_with("/.well-known/"),
                "{}",
                r.path
            );
            assert!(
                seen.insert((r.method, r.path)),
                "duplicate {} {}",
                r.method,
                r.path
            );
            assert!(matches!(
                r.method,
                "GET" | "POST" | "PUT" | "PATCH" | "DELETE"
            ));
        }
    }

    #[test]
    fn a_function_serves_one_route() {
        let mut seen = std::collections::HashSet::new();
        for r in CATALOGUE {
            assert!(seen.insert(r.function), "{} serves two routes", r.function);
        }
    }

    #[test]
    fn matching_finds_routes_and_tells_wrong_methods_from_unknown_paths() {
        match match_route("GET", "/api/v1/health/ready") {
            RouteMatch::Found { route, .. } => assert_eq!(route.function, "health-ready"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            match_route("DELETE", "/api/v1/health"),
            RouteMatch::MethodNotAllowed {
                allowed: vec!["GET"]
            }
        );
        assert_eq!(match_route("GET", "/api/v1/nothing"), RouteMatch::NotFound);
        assert_eq!(
            match_route("GET", "/api/v1/health/live/extra"),
            RouteMatch::NotFound
        );
    }

    #[test]
    fn templates_capture_parameters_and_prefer_literals() {
        let p = match_path(
            "/api/v1/emergency/{alert_id}/status",
            "/api/v1/emergency/abc/status",
        )
        .expect("match");
        assert_eq!(p["alert_id"], "abc");
        assert!(
            match_path(
                "/api/v1/emergency/{alert_id}/status",
                "/api/v1/emergency//status"
            )
            .is_none()
        );
        assert!(
            literal_segments("/api/v1/patients/search") > literal_segments("/api/v1/patients/{id}")
        );
    }
}
