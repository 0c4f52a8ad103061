//! What each function may do on AWS, declared once. `template.yaml` gives every function
//! exactly these permissions and no others; `tests/tests/e2e/catalogue.rs` fails on any
//! difference, so a permission nobody declared (or a declared one the template lacks) stops
//! the build. Item access on the table, KMS keys, topics, queues and WebSocket connections are
//! the only things a function's own policy names; the SQS event source adds the receive and
//! delete permissions of a worker's own queue.

use haven_kernel::catalogue::{
    self, DEADLINES_QUEUE, HOSPITAL_API_QUEUE, SMS_QUEUE, WEBHOOK_QUEUE,
};

/// The envelope keys. Each kind of secret has its own, so a function that handles one kind
/// cannot open another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    /// Medical data: profiles, and an alert's clinical details and the packet sent to a
    /// hospital. `EnvelopeKey` in the template.
    Medical,
    /// Identity secrets: JWT signing keys, TOTP secrets. `IdentityKey`.
    Identity,
    /// Hospitals' integration secrets: webhook signing secrets. `IntegrationKey`.
    Integration,
    /// Patient records of the hospital register, and the blind-index key their search
    /// tokens are made with. `PatientKey`.
    Patient,
    /// Patients' documents in S3, encrypted by S3 itself (SSE-KMS), not in envelopes.
    /// `DocumentKey`.
    Document,
    /// Lab orders and results. `LabKey`.
    Lab,
}

impl Key {
    pub const ALL: [Key; 6] = [
        Key::Medical,
        Key::Identity,
        Key::Integration,
        Key::Patient,
        Key::Document,
        Key::Lab,
    ];

    /// The key's logical id in `template.yaml`.
    pub fn logical_id(self) -> &'static str {
        match self {
            Key::Medical => "EnvelopeKey",
            Key::Identity => "IdentityKey",
            Key::Integration => "IntegrationKey",
            Key::Patient => "PatientKey",
            Key::Document => "DocumentKey",
            Key::Lab => "LabKey",
        }
    }
}

/// One thing a function may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// These item actions on the table; `dynamodb:Query` on its indexes too when they
    /// include it (an index holds no item a write could name).
    Table(&'static [&'static str]),
    /// Seal new envelopes under the key and open existing ones.
    Seal(Key),
    /// Open envelopes sealed under the key.
    Open(Key),
    /// Publish to the alerts topic (the notification fan-out).
    PublishAlerts,
    /// Text a phone number. SNS gives a number no ARN, so the resource is `*`; that also
    /// covers the alerts topic for a function that does both.
    Text,
    /// Send to this queue (catalogue name).
    SendTo(&'static str),
    /// Send to this queue's dead-letter queue (a worker parks what can never succeed).
    Park(&'static str),
    /// Change the visibility of this queue's messages (the worker's own retry schedule).
    Reschedule(&'static str),
    /// Read this queue's attributes (its depth, for readiness).
    Depth(&'static str),
    /// Post to (and forget) WebSocket connections.
    PostToConnections,
    /// Sign uploads to the documents bucket (a presigned URL carries its signer's rights;
    /// S3 asks the bucket's key for a data key on the uploader's behalf).
    UploadDocuments,
    /// Read, check and sign downloads of the documents bucket, and delete what fails its
    /// check. Listing the bucket lets a missing object answer 404 rather than 403.
    ReadDocuments,
}

/// What a permission is on, as the template names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    Table,
    TableIndexes,
    Key(Key),
    AlertsTopic,
    /// `*`: only for texting phone numbers.
    Anything,
    /// A queue by its catalogue name.
    Queue(&'static str),
    /// `execute-api:ManageConnections` on the WebSocket API's `@connections`.
    Connections,
    /// The documents bucket itself (`s3:ListBucket`).
    DocumentsBucket,
    /// The objects of the documents bucket.
    Documents,
}

/// One IAM action on one resource.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Permission {
    pub action: &'static str,
    pub on: Resource,
}

impl Grant {
    pub fn permissions(&self) -> Vec<Permission> {
        let p = |action, on| Permission { action, on };
        match *self {
            Grant::Table(actions) => {
                let mut out: Vec<_> = actions.iter().map(|a| p(a, Resource::Table)).collect();
                if actions.contains(&"dynamodb:Query") {
                    out.push(p("dynamodb:Query", Resource::TableIndexes));
                }
                out
            }
            Grant::Seal(key) => vec![
                p("kms:GenerateDataKey", Resource::Key(key)),
                p("kms:Decrypt", Resource::Key(key)),
            ],
            Grant::Open(key) => vec![p("kms:Decrypt", Resource::Key(key))],
            Grant::PublishAlerts => vec![p("sns:Publish", Resource::AlertsTopic)],
            Grant::Text => vec![p("sns:Publish", Resource::Anything)],
            Grant::SendTo(q) => vec![p("sqs:SendMessage", Resource::Queue(q))],
            Grant::Park(q) => vec![p("sqs:SendMessage", Resource::Queue(dead_letter_of(q)))],
            Grant::Reschedule(q) => {
                vec![p("sqs:ChangeMessageVisibility", Resource::Queue(q))]
            }
            Grant::Depth(q) => vec![p("sqs:GetQueueAttributes", Resource::Queue(q))],
            Grant::PostToConnections => {
                vec![p("execute-api:ManageConnections", Resource::Connections)]
            }
            Grant::UploadDocuments => vec![
                p("s3:PutObject", Resource::Documents),
                p("kms:GenerateDataKey", Resource::Key(Key::Document)),
            ],
            Grant::ReadDocuments => vec![
                p("s3:GetObject", Resource::Documents),
                p("s3:DeleteObject", Resource::Documents),
                p("s3:ListBucket", Resource::DocumentsBucket),
                p("kms:Decrypt", Resource::Key(Key::Document)),
            ],
        }
    }
}

/// The dead-letter queue of a queue, from the catalogue.
fn dead_letter_of(name: &'static str) -> &'static str {
    catalogue::queue(name)
        .and_then(|q| q.dead_letter)
        .map_or(name, |d| d.queue)
}

/// A readiness probe: one GetItem of a sentinel key.
pub const PROBE: &[&str] = &["dynamodb:GetItem"];
/// Reads only (`BatchGetItem`: the hospital search reads its candidates' live capacity in one
/// request).
pub const READ: &[&str] = &[
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
];
/// Reads and versioned puts (a transaction's condition checks included).
pub const PUT: &[&str] = &[
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:ConditionCheckItem",
];
/// As `PUT`, and deletes (watchers, claims, mirrors that end).
pub const PUT_DELETE: &[&str] = &[
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
];
/// Every item action Haven uses.
pub const WRITE: &[&str] = &[
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:UpdateItem",
];
/// Finding items and deleting them, nothing else (cleanup, the outbox relay).
pub const FORGET: &[&str] = &["dynamodb:Query", "dynamodb:DeleteItem"];

use Grant::*;

/// A function and its grants.
#[derive(Debug, Clone, Copy)]
pub struct FunctionGrants {
    pub function: &'static str,
    pub grants: &'static [Grant],
}

const fn f(function: &'static str, grants: &'static [Grant]) -> FunctionGrants {
    FunctionGrants { function, grants }
}

/// Every function's grants. Only the functions that handle medical data hold the medical key:
/// the medical-profile functions, the alert functions that read or write an alert's clinical
/// details, and the webhook worker, which builds the packet a hospital receives.
pub const GRANTS: &[FunctionGrants] = &[
    // ops
    f(
        "health",
        &[
            Table(PROBE),
            Depth(WEBHOOK_QUEUE),
            Depth(SMS_QUEUE),
            Depth(HOSPITAL_API_QUEUE),
            Depth(DEADLINES_QUEUE),
        ],
    ),
    f("health-live", &[]),
    f(
        "health-ready",
        &[
            Table(PROBE),
            Depth(WEBHOOK_QUEUE),
            Depth(SMS_QUEUE),
            Depth(HOSPITAL_API_QUEUE),
            Depth(DEADLINES_QUEUE),
        ],
    ),
    f("route-not-found", &[]),
    // identity: those that find or write an account by email or phone hold IdentityKey, under
    // which the key of the lookups' tokens is wrapped.
    f("auth-register", &[Table(WRITE), Seal(Key::Identity)]),
    f("auth-login", &[Table(WRITE), Seal(Key::Identity), Text]),
    f("auth-verify", &[Table(WRITE), Seal(Key::Identity)]),
    f("auth-refresh", &[Table(WRITE), Seal(Key::Identity)]),
    f("auth-logout", &[Table(WRITE)]),
    f("auth-me", &[Table(READ)]),
    f(
        "auth-mfa-enable",
        &[Table(WRITE), Seal(Key::Identity), Text],
    ),
    f("auth-mfa-verify", &[Table(WRITE), Seal(Key::Identity)]),
    f(
        "auth-emergency-bypass",
        &[Table(WRITE), Seal(Key::Identity), Text],
    ),
    f("users-list", &[Table(READ)]),
    f("users-create", &[Table(WRITE), Seal(Key::Identity)]),
    f("users-get", &[Table(READ)]),
    f("users-update", &[Table(WRITE)]),
    f("users-delete", &[Table(WRITE), Seal(Key::Identity)]),
    f("jwks", &[Table(WRITE), Seal(Key::Identity)]),
    // medical
    f("medical-profile-create", &[Table(PUT), Seal(Key::Medical)]),
    f("medical-profile-get", &[Table(READ), Open(Key::Medical)]),
    f("medical-profile-update", &[Table(PUT), Seal(Key::Medical)]),
    f("medical-profile-delete", &[Table(PUT_DELETE)]),
    f("medical-profile-fhir", &[Table(READ), Open(Key::Medical)]),
    f("medical-profile-access-log", &[Table(READ)]),
    // patients: every function opens records (the blind-index key included); those that
    // write seal them.
    f("patients-create", &[Table(WRITE), Seal(Key::Patient)]),
    f("patients-list", &[Table(PUT), Open(Key::Patient)]),
    f("patients-search", &[Table(PUT), Open(Key::Patient)]),
    f("patients-get", &[Table(PUT), Open(Key::Patient)]),
    f("patients-update", &[Table(PUT_DELETE), Seal(Key::Patient)]),
    f("patients-delete", &[Table(WRITE), Open(Key::Patient)]),
    f("patients-restore", &[Table(WRITE), Open(Key::Patient)]),
    f("patients-history", &[Table(PUT), Open(Key::Patient)]),
    f("patients-fhir", &[Table(PUT), Open(Key::Patient)]),
    f("patients-hl7-import", &[Table(WRITE), Seal(Key::Patient)]),
    f(
        "patients-documents-create",
        &[Table(PUT), Seal(Key::Patient), UploadDocuments],
    ),
    f(
        "patients-documents-list",
        &[Table(WRITE), Open(Key::Patient), ReadDocuments],
    ),
    // labs
    f("labs-orders-create", &[Table(PUT), Seal(Key::Lab)]),
    f("labs-orders-list", &[Table(READ), Open(Key::Lab)]),
    f("labs-orders-get", &[Table(READ), Open(Key::Lab)]),
    f("labs-orders-status", &[Table(WRITE), Open(Key::Lab)]),
    f(
        "emergency-medical-profile",
        &[Table(PUT), Open(Key::Medical)],
    ),
    // emergencies: the alert path
    f(
        "emergency-alert",
        &[
            Table(WRITE),
            Seal(Key::Medical),
            Text,
            SendTo(DEADLINES_QUEUE),
        ],
    ),
    f("emergency-status", &[Table(READ), Open(Key::Medical)]),
    f(
        "emergency-location",
        &[Table(PUT_DELETE), Open(Key::Medical), PostToConnections],
    ),
    f(
        "emergency-cancel",
        &[
            Table(WRITE),
            Open(Key::Medical),
            PublishAlerts,
            PostToConnections,
        ],
    ),
    f(
        "emergency-verify",
        &[
            Table(WRITE),
            Open(Key::Medical),
            PublishAlerts,
            SendTo(DEADLINES_QUEUE),
            PostToConnections,
        ],
    ),
    f("emergency-history", &[Table(READ)]),
    // hospitals
    f("hospitals-nearby", &[Table(READ)]),
    f("hospitals-create", &[Table(PUT)]),
    f("hospitals-update", &[Table(PUT)]),
    f("hospitals-capabilities", &[Table(READ)]),
    f("hospitals-availability", &[Table(PUT)]),
    f(
        "hospitals-route-alert",
        &[
            Table(WRITE),
            Open(Key::Medical),
            PublishAlerts,
            SendTo(DEADLINES_QUEUE),
            PostToConnections,
        ],
    ),
    // comms
    f(
        "comms-webhook-configure",
        &[Table(WRITE), Seal(Key::Integration)],
    ),
    f(
        "comms-webhook-rotate",
        &[Table(WRITE), Seal(Key::Integration)],
    ),
    f(
        "comms-ack",
        &[
            Table(WRITE),
            PublishAlerts,
            SendTo(DEADLINES_QUEUE),
            PostToConnections,
        ],
    ),
    // The answer page shows the alert's sealed clinical details.
    f("comms-ack-link", &[Table(READ), Open(Key::Medical)]),
    f(
        "comms-ack-link-answer",
        &[
            Table(WRITE),
            PublishAlerts,
            SendTo(DEADLINES_QUEUE),
            PostToConnections,
            Open(Key::Medical),
        ],
    ),
    f(
        "comms-alert",
        &[
            Table(WRITE),
            Open(Key::Medical),
            PublishAlerts,
            SendTo(DEADLINES_QUEUE),
            PostToConnections,
        ],
    ),
    f(
        "comms-fallback",
        &[
            Table(WRITE),
            PublishAlerts,
            SendTo(DEADLINES_QUEUE),
            PostToConnections,
        ],
    ),
    f("comms-status", &[Table(READ)]),
    f(
        "comms-webhook-worker",
        &[
            Table(WRITE),
            Open(Key::Medical),
            Open(Key::Integration),
            Reschedule(WEBHOOK_QUEUE),
            Park(WEBHOOK_QUEUE),
            PostToConnections,
        ],
    ),
    f(
        "comms-sms-worker",
        &[
            Table(WRITE),
            Text,
            Reschedule(SMS_QUEUE),
            Park(SMS_QUEUE),
            PostToConnections,
        ],
    ),
    f(
        "comms-hospital-api-worker",
        &[
            Table(WRITE),
            Reschedule(HOSPITAL_API_QUEUE),
            Park(HOSPITAL_API_QUEUE),
            PostToConnections,
        ],
    ),
    f(
        "comms-deadline-worker",
        &[
            Table(WRITE),
            PublishAlerts,
            SendTo(DEADLINES_QUEUE),
            Reschedule(DEADLINES_QUEUE),
            Park(DEADLINES_QUEUE),
            PostToConnections,
        ],
    ),
    f(
        "comms-outbox-relay",
        &[Table(FORGET), PublishAlerts, SendTo(DEADLINES_QUEUE)],
    ),
    // dispatch
    f("ambulances-create", &[Table(PUT)]),
    f("ambulances-list", &[Table(READ)]),
    f("ambulances-get", &[Table(READ)]),
    f("ambulances-assign", &[Table(PUT_DELETE), PostToConnections]),
    f(
        "ambulances-position",
        &[Table(PUT_DELETE), PostToConnections],
    ),
    f("ambulances-status", &[Table(PUT_DELETE), PostToConnections]),
    f("ambulances-propose", &[Table(READ)]),
    // tracking
    f("tracking-eta", &[Table(READ)]),
    f("tracking-route-optimize", &[Table(READ)]),
    f("tracking-track", &[Table(READ)]),
    f("ws-connect", &[Table(PUT_DELETE)]),
    f("ws-disconnect", &[Table(FORGET)]),
    f("ws-default", &[Table(FORGET), PostToConnections]),
    f("ws-subscribe", &[Table(PUT_DELETE), PostToConnections]),
    f("ws-unsubscribe", &[Table(FORGET), PostToConnections]),
    f("ws-location", &[Table(PUT_DELETE), PostToConnections]),
];

/// The declared grants of a function.
pub fn grants_of(function: &str) -> Option<&'static [Grant]> {
    GRANTS
        .iter()
        .find(|g| g.function == function)
        .map(|g| g.grants)
}

/// Every permission a function is declared to need.
pub fn permissions_of(function: &str) -> Option<std::collections::BTreeSet<Permission>> {
    grants_of(function).map(|gs| gs.iter().flat_map(Grant::permissions).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_grant_reaches_indexes_with_query_only() {
        let perms = Table(READ).permissions();
        assert!(perms.contains(&Permission {
            action: "dynamodb:Query",
            on: Resource::TableIndexes
        }));
        assert!(!perms.contains(&Permission {
            action: "dynamodb:GetItem",
            on: Resource::TableIndexes
        }));
        assert!(
            Table(PROBE)
                .permissions()
                .iter()
                .all(|p| p.on == Resource::Table)
        );
    }

    #[test]
    fn every_function_is_declared_once_and_every_queue_is_real() {
        let mut seen = std::collections::BTreeSet::new();
        for g in GRANTS {
            assert!(seen.insert(g.function), "{} declared twice", g.function);
            for p in g.grants.iter().flat_map(Grant::permissions) {
                if let Resource::Queue(q) = p.on {
                    assert!(
                        catalogue::queue(q).is_some(),
                        "{}: no queue {q}",
                        g.function
                    );
                }
            }
        }
        let all: std::collections::BTreeSet<_> =
            crate::catalogue::all_functions().into_iter().collect();
        assert_eq!(seen, all, "declared grants vs the catalogue");
    }

    #[test]
    fn only_functions_that_handle_medical_data_hold_the_medical_key() {
        let holders: Vec<&str> = GRANTS
            .iter()
            .filter(|g| {
                g.grants
                    .iter()
                    .any(|g| matches!(g, Seal(Key::Medical) | Open(Key::Medical)))
            })
            .map(|g| g.function)
            .collect();
        for h in &holders {
            assert!(
                h.starts_with("medical-")
                    || h.starts_with("emergency-")
                    || h.starts_with("hospitals-route-alert")
                    || *h == "comms-alert"
                    || *h == "comms-webhook-worker"
                    || h.starts_with("comms-ack-link"),
                "{h} holds the medical key"
            );
        }
        // The read-only views of alerts and hospitals never open medical data.
        for not in ["emergency-history", "comms-status", "hospitals-nearby"] {
            assert!(!holders.contains(&not), "{not} holds the medical key");
        }
    }
}
