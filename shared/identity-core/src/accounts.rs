//! Accounts: patients register themselves; staff are created by a system admin, or by the
//! admin of their own hospital. Emails and phones are found through lookup items keyed by a
//! keyed blind-index token (`lookups`), emergency credentials (random secrets) by their hash,
//! so the table's keys hold no personal data.

use serde::{Deserialize, Serialize};

use crate::{codes, lookups, password};
use haven_kernel::audit::{self, AuditEvent};
use haven_kernel::envelope::Envelope;
use haven_kernel::item::{Item, Key, Value};
use haven_kernel::ports::publisher::validate_phone_number;
use haven_kernel::ports::{
    Condition, Cursor, Index, Ports, Query, Table, TableError, TransactOp, Update,
};
use haven_kernel::{DomainError, Role};

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_EMAIL_CHARS: usize = 254;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    Active,
    Disabled,
}

/// A person who can sign in.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub user_id: String,
    pub email: String,
    pub full_name: String,
    pub phone: Option<String>,
    pub role: Role,
    pub hospital_id: Option<String>,
    pub password_hash: String,
    pub status: AccountStatus,
    pub mfa_enabled: bool,
    /// The active TOTP secret, sealed (KeyRing envelope).
    pub totp: Option<Envelope>,
    /// A secret being enrolled, until its first code is verified.
    pub totp_pending: Option<Envelope>,
    /// The last TOTP step accepted: a code is accepted once.
    pub totp_last_step: Option<u64>,
    /// The partition of this account's emergency-credential lookup (a hash, never the
    /// credential), so erasing the account can erase the lookup too.
    pub emergency_lookup: Option<String>,
    pub created_at: String,
    pub version: i64,
}

/// What callers may see of an account.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserView {
    pub user_id: String,
    pub email: String,
    pub full_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    pub role: Role,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hospital_id: Option<String>,
    pub mfa_enabled: bool,
    pub status: AccountStatus,
    pub created_at: String,
}

impl User {
    pub fn key(user_id: &str) -> Key {
        Key::new(format!("USER#{user_id}"), "ACCOUNT")
    }

    pub fn view(&self) -> UserView {
        UserView {
            user_id: self.user_id.clone(),
            email: self.email.clone(),
            full_name: self.full_name.clone(),
            phone: self.phone.clone(),
            role: self.role,
            hospital_id: self.hospital_id.clone(),
            mfa_enabled: self.mfa_enabled,
            status: self.status,
            created_at: self.created_at.clone(),
        }
    }

    pub fn to_item(&self) -> Item {
        let mut item = Item::new(&Self::key(&self.user_id))
            .with("kind", Value::s("user"))
            .with("user_id", Value::s(&self.user_id))
            .with("email", Value::s(&self.email))
            .with("full_name", Value::s(&self.full_name))
            .with("role", Value::s(self.role.as_str()))
            .with("password_hash", Value::s(&self.password_hash))
            .with(
                "status",
                Value::s(if self.status == AccountStatus::Active {
                    "active"
                } else {
                    "disabled"
                }),
            )
            .with("mfa_enabled", Value::Bool(self.mfa_enabled))
            .with("created_at", Value::s(&self.created_at))
            .with("version", Value::n(self.version))
            // Every account, newest first, for system admins.
            .with("gsi2pk", Value::s("USERS"))
            .with(
                "gsi2sk",
                Value::s(format!("{}#{}", self.created_at, self.user_id)),
            );
        if let Some(phone) = &self.phone {
            item.set("phone", Value::s(phone));
        }
        if let Some(h) = &self.hospital_id {
            item.set("hospital_id", Value::s(h));
            // The staff of one hospital, for its admins.
            item.set("gsi1pk", Value::s(format!("HOSPITAL#{h}#STAFF")));
            item.set(
                "gsi1sk",
                Value::s(format!("{}#{}", self.created_at, self.user_id)),
            );
        }
        if let Some(t) = &self.totp {
            t.write_to(&mut item, "totp");
        }
        if let Some(t) = &self.totp_pending {
            t.write_to(&mut item, "totp_pending");
        }
        if let Some(step) = self.totp_last_step {
            item.set("totp_last_step", Value::n(step));
        }
        if let Some(lookup) = &self.emergency_lookup {
            item.set("emergency_lookup", Value::s(lookup));
        }
        item
    }

    pub fn from_item(item: &Item) -> Option<Self> {
        let role: Role =
            serde_json::from_value(serde_json::Value::String(item.s("role")?.to_owned())).ok()?;
        Some(User {
            user_id: item.s("user_id")?.to_owned(),
            email: item.s("email")?.to_owned(),
            full_name: item.s("full_name")?.to_owned(),
            phone: item.s("phone").map(str::to_owned),
            role,
            hospital_id: item.s("hospital_id").map(str::to_owned),
            password_hash: item.s("password_hash")?.to_owned(),
            status: if item.s("status") == Some("disabled") {
                AccountStatus::Disabled
            } else {
                AccountStatus::Active
            },
            mfa_enabled: item
                .get("mfa_enabled")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            totp: Envelope::read_from(item, "totp"),
            totp_pending: Envelope::read_from(item, "totp_pending"),
            totp_last_step: item
                .i64("totp_last_step")
                .and_then(|s| u64::try_from(s).ok()),
            emergency_lookup: item.s("emergency_lookup").map(str::to_owned),
            created_at: item.s("created_at")?.to_owned(),
            version: item.i64("version").unwrap_or(0),
        })
    }
}

/// Lookup items: `EMAIL#<token>`, `PHONE#<token>` (see `lookups`) and
/// `EMERGENCY#<hash of the credential>` → user id.
pub fn emergency_credential_key(credential: &str) -> Key {
    Key::new(
        format!("EMERGENCY#{}", codes::lookup_hash(credential)),
        "LOOKUP",
    )
}

fn lookup_item(key: &Key, user_id: &str) -> Item {
    Item::new(key).with("user_id", Value::s(user_id))
}

pub fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

pub fn validate_email(email: &str) -> Result<String, DomainError> {
    let email = normalise_email(email);
    let valid = email.len() <= MAX_EMAIL_CHARS
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
                && email.matches('@').count() == 1
        });
    if valid {
        Ok(email)
    } else {
        Err(DomainError::invalid(
            "email",
            "enter an email address like name@example.org",
        ))
    }
}

fn validate_name(name: &str) -> Result<String, DomainError> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(DomainError::invalid(
            "full_name",
            format!("a name holds 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    Ok(name.to_owned())
}

fn validate_phone(phone: Option<&str>) -> Result<Option<String>, DomainError> {
    match phone.map(str::trim).filter(|p| !p.is_empty()) {
        None => Ok(None),
        Some(p) => validate_phone_number(p)
            .map(|()| Some(p.to_owned()))
            .map_err(|_| {
                DomainError::invalid(
                    "phone",
                    "a phone number must be in E.164 form, like +254712345678",
                )
            }),
    }
}

pub async fn find_by_id<P: Ports>(ports: &P, user_id: &str) -> Result<Option<User>, DomainError> {
    if !haven_kernel::ids::is_valid_id(user_id) {
        return Ok(None);
    }
    Ok(ports
        .table()
        .get(&User::key(user_id))
        .await?
        .as_ref()
        .and_then(User::from_item))
}

async fn find_by_lookup<P: Ports>(ports: &P, key: &Key) -> Result<Option<User>, DomainError> {
    let Some(lookup) = ports.table().get(key).await? else {
        return Ok(None);
    };
    match lookup.s("user_id") {
        Some(id) => find_by_id(ports, id).await,
        None => Ok(None),
    }
}

pub async fn find_by_email<P: Ports>(ports: &P, email: &str) -> Result<Option<User>, DomainError> {
    let email = normalise_email(email);
    let keys = lookups::load(ports).await?;
    match lookups::find(
        ports,
        keys.email_key(&email),
        lookups::legacy_email_key(&email),
    )
    .await?
    {
        Some(id) => find_by_id(ports, &id).await,
        None => Ok(None),
    }
}
pub async fn find_by_phone<P: Ports>(ports: &P, phone: &str) -> Result<Option<User>, DomainError> {
    let keys = lookups::load(ports).await?;
    match lookups::find(
        ports,
        keys.phone_key(phone),
        lookups::legacy_phone_key(phone),
    )
    .await?
    {
        Some(id) => find_by_id(ports, &id).await,
        None => Ok(None),
    }
}
pub async fn find_by_emergency_credential<P: Ports>(
    ports: &P,
    credential: &str,
) -> Result<Option<User>, DomainError> {
    find_by_lookup(ports, &emergency_credential_key(credential)).await
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    pub email: String,
    pub password: String,
    pub full_name: String,
    #[serde(default)]
    pub phone: Option<String>,
    /// Admin-created accounts only; self-registration is always a patient.
    #[serde(default)]
    pub role: Option<Role>,
    #[serde(default)]
    pub hospital_id: Option<String>,
}

/// A new account, and for patients the device emergency credential (shown once).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Created {
    pub user_id: String,
    pub role: Role,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emergency_credential: Option<String>,
}

async fn create<P: Ports>(
    ports: &P,
    input: NewAccount,
    role: Role,
    actor: Option<&str>,
) -> Result<Created, DomainError> {
    let email = validate_email(&input.email)?;
    let full_name = validate_name(&input.full_name)?;
    let phone = validate_phone(input.phone.as_deref())?;
    let hospital_id = input
        .hospital_id
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty());
    match (role.is_hospital_staff(), &hospital_id) {
        (true, None) => {
            return Err(DomainError::invalid(
                "hospital_id",
                "staff accounts belong to a hospital",
            ));
        }
        (false, Some(_)) => {
            return Err(DomainError::invalid(
                "hospital_id",
                "only hospital staff belong to a hospital",
            ));
        }
        (true, Some(h)) if !haven_kernel::ids::is_valid_id(h) => {
            return Err(DomainError::invalid("hospital_id", "not a hospital id"));
        }
        _ => {}
    }
    password::check_strength(&input.password, &email, &full_name)?;
    let password_hash = password::hash(&input.password)?;
    let user_id = ports.ids().next_id();
    let credential = (role == Role::Patient).then(codes::opaque_token);
    let user = User {
        user_id: user_id.clone(),
        email: email.clone(),
        full_name,
        phone: phone.clone(),
        role,
        hospital_id,
        password_hash,
        status: AccountStatus::Active,
        mfa_enabled: false,
        totp: None,
        totp_pending: None,
        totp_last_step: None,
        emergency_lookup: credential
            .as_deref()
            .map(|c| emergency_credential_key(c).pk),
        created_at: ports.clock().now().to_rfc3339(),
        version: 1,
    };
    let keys = lookups::load(ports).await?;
    // The keyed lookups are taken, and no account made before them holds the email or phone.
    let mut ops = vec![
        TransactOp::Put {
            item: user.to_item(),
            condition: Some(Condition::item_absent()),
        },
        TransactOp::Put {
            item: lookup_item(&keys.email_key(&email), &user_id),
            condition: Some(Condition::item_absent()),
        },
        TransactOp::Check {
            key: lookups::legacy_email_key(&email),
            condition: Condition::item_absent(),
        },
    ];
    if let Some(p) = &phone {
        ops.push(TransactOp::Put {
            item: lookup_item(&keys.phone_key(p), &user_id),
            condition: Some(Condition::item_absent()),
        });
        ops.push(TransactOp::Check {
            key: lookups::legacy_phone_key(p),
            condition: Condition::item_absent(),
        });
    }
    if let Some(c) = &credential {
        ops.push(TransactOp::Put {
            item: lookup_item(&emergency_credential_key(c), &user_id),
            condition: Some(Condition::item_absent()),
        });
    }
    // Staff belong to a hospital that exists, checked in the same transaction as the write.
    if let Some(h) = &user.hospital_id {
        ops.push(TransactOp::Check {
            key: haven_kernel::refs::hospital_profile(h),
            condition: Condition::item_present(),
        });
    }
    let hospital_check = user.hospital_id.is_some().then(|| ops.len() - 1);
    match ports.table().transact_write(ops).await {
        Ok(()) => {}
        Err(TableError::TransactionCanceled(reasons)) => {
            use haven_kernel::ports::table::CancelReason;
            if hospital_check
                .and_then(|i| reasons.get(i))
                .is_some_and(|r| *r == CancelReason::ConditionFailed)
            {
                return Err(DomainError::invalid(
                    "hospital_id",
                    "no hospital has this id; register the hospital first (POST /api/v1/hospitals)",
                ));
            }
            // 1 and 2: the email's lookups (keyed, old); 3 and 4: the phone's.
            let failed = |i: usize| reasons.get(i) == Some(&CancelReason::ConditionFailed);
            let email_taken = failed(1) || failed(2);
            return Err(match phone {
                Some(_) if !email_taken && (failed(3) || failed(4)) => DomainError::Conflict {
                    message: "an account with this phone number exists".into(),
                    current: None,
                },
                _ => DomainError::Conflict {
                    message: "an account with this email exists".into(),
                    current: None,
                },
            });
        }
        Err(e) => return Err(e.into()),
    }
    let mut event = AuditEvent::new(
        if actor.is_some() {
            "user.created"
        } else {
            "account.registered"
        },
        "success",
    )
    .subject(&user_id)
    .detail(format!("role {}", role.as_str()));
    if let Some(a) = actor {
        event = event.actor(a);
    }
    audit::record(ports, event).await?;
    Ok(Created {
        user_id,
        role,
        emergency_credential: credential,
    })
}

/// `POST /auth/register`: a patient creates their own account.
pub async fn register<P: Ports>(ports: &P, input: NewAccount) -> Result<Created, DomainError> {
    if input.role.is_some_and(|r| r != Role::Patient) || input.hospital_id.is_some() {
        return Err(DomainError::invalid(
            "role",
            "self-registration creates patient accounts; staff are created by an admin",
        ));
    }
    create(ports, input, Role::Patient, None).await
}

/// Who is acting on accounts, and over which hospital.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin {
    pub user_id: String,
    pub role: Role,
    pub hospital_id: Option<String>,
}

impl Admin {
    /// System admins manage everyone; hospital admins manage the staff of their hospital.
    fn may_manage(&self, role: Role, hospital_id: Option<&str>) -> bool {
        match self.role {
            Role::SystemAdmin => true,
            Role::HospitalAdmin => {
                role.is_hospital_staff()
                    && hospital_id.is_some()
                    && hospital_id == self.hospital_id.as_deref()
            }
            _ => false,
        }
    }
}

/// `POST /users`: an admin creates an account.
pub async fn create_user<P: Ports>(
    ports: &P,
    admin: &Admin,
    mut input: NewAccount,
) -> Result<Created, DomainError> {
    let role = input
        .role
        .ok_or_else(|| DomainError::invalid("role", "say which role the account has"))?;
    if admin.role == Role::HospitalAdmin && input.hospital_id.is_none() {
        input.hospital_id = admin.hospital_id.clone();
    }
    if !admin.may_manage(role, input.hospital_id.as_deref()) {
        return Err(DomainError::Forbidden);
    }
    create(ports, input, role, Some(&admin.user_id)).await
}

/// An account the admin may manage; anything else reads as not found, so hospital admins
/// cannot probe other hospitals' staff.
pub async fn managed_user<P: Ports>(
    ports: &P,
    admin: &Admin,
    user_id: &str,
) -> Result<User, DomainError> {
    match find_by_id(ports, user_id).await? {
        Some(u) if admin.may_manage(u.role, u.hospital_id.as_deref()) => Ok(u),
        _ => Err(DomainError::NotFound("user".into())),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserPage {
    pub users: Vec<UserView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `GET /users`: newest first, a page at a time.
pub async fn list_users<P: Ports>(
    ports: &P,
    admin: &Admin,
    limit: u32,
    cursor: Option<Cursor>,
) -> Result<UserPage, DomainError> {
    let query = match admin.role {
        Role::SystemAdmin => Query::partition("USERS").on(Index::Gsi2),
        Role::HospitalAdmin => {
            let h = admin.hospital_id.as_deref().ok_or(DomainError::Forbidden)?;
            Query::partition(format!("HOSPITAL#{h}#STAFF")).on(Index::Gsi1)
        }
        _ => return Err(DomainError::Forbidden),
    };
    let page = ports
        .table()
        .query(query.backward().limit(limit.clamp(1, 100)).after(cursor))
        .await?;
    Ok(UserPage {
        users: page
            .items
            .iter()
            .filter_map(User::from_item)
            .map(|u| u.view())
            .collect(),
        next_cursor: page.cursor.map(|c| c.as_str().to_owned()),
    })
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountChanges {
    pub full_name: Option<String>,
    pub role: Option<Role>,
    pub status: Option<AccountStatus>,
}

/// `PUT /users/{id}`: name, role (within what the admin may grant) and status.
pub async fn update_user<P: Ports>(
    ports: &P,
    admin: &Admin,
    user_id: &str,
    changes: AccountChanges,
) -> Result<UserView, DomainError> {
    let user = managed_user(ports, admin, user_id).await?;
    let mut update = Update::new().add("version", 1);
    if let Some(name) = &changes.full_name {
        update = update.set("full_name", Value::s(validate_name(name)?));
    }
    if let Some(role) = changes.role {
        if !admin.may_manage(role, user.hospital_id.as_deref())
            || role.is_hospital_staff() != user.role.is_hospital_staff()
        {
            return Err(DomainError::invalid(
                "role",
                "this role cannot be given to this account",
            ));
        }
        update = update.set("role", Value::s(role.as_str()));
    }
    if let Some(status) = changes.status {
        if user.user_id == admin.user_id {
            return Err(DomainError::invalid(
                "status",
                "you cannot disable your own account",
            ));
        }
        update = update.set(
            "status",
            Value::s(if status == AccountStatus::Active {
                "active"
            } else {
                "disabled"
            }),
        );
    }
    let item = ports
        .table()
        .update(
            &User::key(user_id),
            update,
            Some(Condition::version_is(user.version)),
        )
        .await?;
    if changes.status == Some(AccountStatus::Disabled) {
        crate::sessions::revoke_all_sessions(ports, user_id).await?;
    }
    audit::record(
        ports,
        AuditEvent::new("user.updated", "success")
            .actor(&admin.user_id)
            .subject(user_id),
    )
    .await?;
    User::from_item(&item)
        .map(|u| u.view())
        .ok_or_else(|| DomainError::Unavailable("account record is damaged".into()))
}

/// `DELETE /users/{id}`: removes the account and its lookups, and ends its sessions.
pub async fn delete_user<P: Ports>(
    ports: &P,
    admin: &Admin,
    user_id: &str,
) -> Result<(), DomainError> {
    let user = managed_user(ports, admin, user_id).await?;
    if user.user_id == admin.user_id {
        return Err(DomainError::invalid(
            "user_id",
            "you cannot delete your own account",
        ));
    }
    let keys = lookups::load(ports).await?;
    let email = normalise_email(&user.email);
    // Both forms of each lookup: the account may predate the keyed tokens.
    let mut ops = vec![
        TransactOp::Delete {
            key: User::key(user_id),
            condition: Some(Condition::version_is(user.version)),
        },
        TransactOp::Delete {
            key: keys.email_key(&email),
            condition: None,
        },
        TransactOp::Delete {
            key: lookups::legacy_email_key(&email),
            condition: None,
        },
    ];
    if let Some(p) = &user.phone {
        ops.push(TransactOp::Delete {
            key: keys.phone_key(p),
            condition: None,
        });
        ops.push(TransactOp::Delete {
            key: lookups::legacy_phone_key(p),
            condition: None,
        });
    }
    if let Some(lookup) = &user.emergency_lookup {
        ops.push(TransactOp::Delete {
            key: Key::new(lookup, "LOOKUP"),
            condition: None,
        });
    }
    ports.table().transact_write(ops).await?;
    crate::sessions::revoke_all_sessions(ports, user_id).await?;
    audit::record(
        ports,
        AuditEvent::new("user.deleted", "success")
            .actor(&admin.user_id)
            .subject(user_id),
    )
    .await?;
    Ok(())
}

/// The first system admin of a deployment (local gateway start, or the admin command on AWS).
/// Does nothing when an account with that email exists.
pub async fn bootstrap_admin<P: Ports>(
    ports: &P,
    email: &str,
    password: &str,
) -> Result<Option<String>, DomainError> {
    if find_by_email(ports, email).await?.is_some() {
        return Ok(None);
    }
    let input = NewAccount {
        email: email.to_owned(),
        password: password.to_owned(),
        full_name: "Haven Administrator".to_owned(),
        phone: None,
        role: Some(Role::SystemAdmin),
        hospital_id: None,
    };
    match create(ports, input, Role::SystemAdmin, Some("bootstrap")).await {
        Ok(c) => Ok(Some(c.user_id)),
        Err(DomainError::Conflict { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}
