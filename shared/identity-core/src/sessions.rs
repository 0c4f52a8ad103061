//! Signing in and staying signed in: login with growing delays after failures, MFA (TOTP or
//! an SMS code), refresh tokens that rotate on every use and revoke their whole family when one
//! is reused, logout, the emergency bypass, and the check of every access token.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::accounts::{self, AccountStatus, User};
use crate::tokens::{AUDIENCE, Claims, ISSUER, TokenError, TokenKind};
use crate::{codes, keys, password, tokens, totp};
use haven_kernel::audit::{self, AuditEvent};
use haven_kernel::envelope::{self, Envelope};
use haven_kernel::item::{EXPIRES_AT, Item, Key, Value};
use haven_kernel::ports::{
    Comparison, Condition, EncryptionContext, Index, Ports, Publisher, Query, Table, TableError,
    TransactOp, Update,
};
use haven_kernel::{DomainError, Role, Timestamp, TokenRejection};

pub const REFRESH_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);
/// Failures allowed before delays start.
pub const FREE_FAILURES: i64 = 5;
/// The longest delay between two evaluated attempts.
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// Password evaluations allowed per account per clock hour, whatever the delays allow.
pub const MAX_ATTEMPTS_PER_HOUR: i64 = 100;
pub const CODE_LIFETIME: Duration = Duration::from_secs(5 * 60);
pub const CODE_ATTEMPTS: i64 = 5;
const TOTP_ISSUER: &str = "Haven";

fn unauthenticated() -> DomainError {
    DomainError::Unauthenticated
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum LoginOutcome {
    Tokens(TokenPair),
    MfaRequired {
        mfa_required: bool,
        mfa_token: String,
    },
}

fn session_key(family: &str) -> Key {
    Key::new(format!("SESSION#{family}"), "SESSION")
}
fn refresh_key(token: &str) -> Key {
    Key::new(format!("REFRESH#{}", codes::lookup_hash(token)), "TOKEN")
}
fn throttle_state_key(subject: &str) -> Key {
    Key::new(format!("LOGINTHROTTLE#{subject}"), "STATE")
}
fn throttle_hour_key(subject: &str, now: Timestamp) -> Key {
    Key::new(
        format!("LOGINTHROTTLE#{subject}"),
        format!("HOUR#{}", now.epoch_seconds() / 3600),
    )
}
fn code_key(purpose: &str, subject: &str) -> Key {
    Key::new(format!("OTP#{purpose}#{subject}"), "CODE")
}
fn single_use_key(jti: &str) -> Key {
    Key::new(format!("USEDTOKEN#{jti}"), "USED")
}

async fn sign<P: Ports>(
    ports: &P,
    user: &User,
    kind: TokenKind,
    family: Option<&str>,
) -> Result<String, DomainError> {
    let key = keys::signing_key(ports).await?;
    let now = ports.clock().now();
    let claims = Claims {
        iss: ISSUER.to_owned(),
        aud: AUDIENCE.to_owned(),
        sub: user.user_id.clone(),
        exp: now.plus(kind.lifetime()).epoch_seconds(),
        iat: now.epoch_seconds(),
        jti: ports.ids().next_id(),
        kind,
        role: user.role,
        hospital_id: user.hospital_id.clone(),
        fam: family.map(str::to_owned),
        alert_id: None,
    };
    key.sign(&claims)
        .map_err(|e| DomainError::Unavailable(e.to_string()))
}

/// Writes a refresh token of `family`, valid for a week.
fn refresh_item(token: &str, user_id: &str, family: &str, now: Timestamp) -> Item {
    Item::new(&refresh_key(token))
        .with("user_id", Value::s(user_id))
        .with("family", Value::s(family))
        .with("used", Value::Bool(false))
        .with(
            EXPIRES_AT,
            Value::n(now.plus(REFRESH_LIFETIME).epoch_seconds()),
        )
}

/// A new session (refresh-token family) and its first token pair.
async fn open_session<P: Ports>(ports: &P, user: &User) -> Result<TokenPair, DomainError> {
    let now = ports.clock().now();
    let family = ports.ids().next_id();
    let refresh = codes::opaque_token();
    let session = Item::new(&session_key(&family))
        .with("user_id", Value::s(&user.user_id))
        .with("revoked", Value::Bool(false))
        .with(
            "gsi1pk",
            Value::s(format!("USER#{}#SESSIONS", user.user_id)),
        )
        .with("gsi1sk", Value::s(&family))
        .with(
            EXPIRES_AT,
            Value::n(now.plus(REFRESH_LIFETIME).epoch_seconds()),
        );
    ports
        .table()
        .transact_write(vec![
            TransactOp::Put {
                item: session,
                condition: Some(Condition::item_absent()),
            },
            TransactOp::Put {
                item: refresh_item(&refresh, &user.user_id, &family, now),
                condition: Some(Condition::item_absent()),
            },
        ])
        .await?;
    Ok(TokenPair {
        access_token: sign(ports, user, TokenKind::Access, Some(&family)).await?,
        refresh_token: refresh,
        token_type: "Bearer",
        expires_in: TokenKind::Access.lifetime().as_secs(),
    })
}

async fn revoke_session<P: Ports>(ports: &P, family: &str) -> Result<(), DomainError> {
    match ports
        .table()
        .update(
            &session_key(family),
            Update::new().set("revoked", Value::Bool(true)),
            Some(Condition::item_present()),
        )
        .await
    {
        Ok(_) | Err(TableError::ConditionFailed) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Ends every session of an account (disabled or deleted accounts).
pub async fn revoke_all_sessions<P: Ports>(ports: &P, user_id: &str) -> Result<(), DomainError> {
    let mut cursor = None;
    loop {
        let page = ports
            .table()
            .query(
                Query::partition(format!("USER#{user_id}#SESSIONS"))
                    .on(Index::Gsi1)
                    .after(cursor),
            )
            .await?;
        for item in &page.items {
            if let Some(family) = item.s("gsi1sk") {
                revoke_session(ports, family).await?;
            }
        }
        cursor = page.cursor;
        if cursor.is_none() {
            return Ok(());
        }
    }
}

/// Refuses before evaluating anything while the account is in a delay or over its hourly
/// budget; otherwise spends one attempt of the budget.
async fn admit_attempt<P: Ports>(ports: &P, subject: &str) -> Result<(), DomainError> {
    let now = ports.clock().now();
    if let Some(state) = ports.table().get(&throttle_state_key(subject)).await? {
        let until = state.i64("locked_until_ms").unwrap_or(0);
        if until > now.millis() {
            let wait_ms = (until - now.millis()) as u64;
            return Err(DomainError::TooManyRequests {
                retry_after_seconds: wait_ms.div_ceil(1000),
            });
        }
    }
    let hour = throttle_hour_key(subject, now);
    let budget = Condition::Or(vec![
        Condition::NotExists("attempts".into()),
        Condition::Compare(
            "attempts".into(),
            Comparison::Lt,
            Value::n(MAX_ATTEMPTS_PER_HOUR),
        ),
    ]);
    let update = Update::new()
        .add("attempts", 1)
        .set(EXPIRES_AT, Value::n(now.epoch_seconds() + 2 * 3600));
    match ports.table().update(&hour, update, Some(budget)).await {
        Ok(_) => Ok(()),
        Err(TableError::ConditionFailed) => {
            let next_hour = (now.epoch_seconds() / 3600 + 1) * 3600;
            Err(DomainError::TooManyRequests {
                retry_after_seconds: (next_hour - now.epoch_seconds()).max(1) as u64,
            })
        }
        Err(e) => Err(e.into()),
    }
}

/// Counts a failure; from the sixth on, each doubles the delay before the next attempt.
async fn record_failure<P: Ports>(ports: &P, subject: &str) -> Result<(), DomainError> {
    let now = ports.clock().now();
    let key = throttle_state_key(subject);
    let forget_after = Value::n(now.epoch_seconds() + 24 * 3600);
    // Failures older than a day no longer count, even before DynamoDB's TTL removes them.
    let current = Condition::Compare(
        EXPIRES_AT.into(),
        Comparison::Gt,
        Value::n(now.epoch_seconds()),
    );
    let state = match ports
        .table()
        .update(
            &key,
            Update::new()
                .add("failures", 1)
                .set(EXPIRES_AT, forget_after.clone()),
            Some(current),
        )
        .await
    {
        Ok(state) => state,
        Err(TableError::ConditionFailed) => {
            let fresh = Item::new(&key)
                .with("failures", Value::n(1))
                .with(EXPIRES_AT, forget_after);
            ports.table().put(fresh.clone(), None).await?;
            fresh
        }
        Err(e) => return Err(e.into()),
    };
    let failures = state.i64("failures").unwrap_or(1);
    if failures >= FREE_FAILURES {
        let exponent = (failures - FREE_FAILURES).min(20) as u32;
        let delay = 2u64.saturating_pow(exponent).min(MAX_DELAY.as_secs());
        let until = now.plus(Duration::from_secs(delay)).millis();
        ports
            .table()
            .update(
                &throttle_state_key(subject),
                Update::new().set("locked_until_ms", Value::n(until)),
                None,
            )
            .await?;
        if failures == FREE_FAILURES {
            audit::record(
                ports,
                AuditEvent::new("login.locked", "refused")
                    .subject(subject)
                    .detail(format!("{failures} failures")),
            )
            .await?;
        }
    }
    Ok(())
}

async fn clear_failures<P: Ports>(ports: &P, subject: &str) -> Result<(), DomainError> {
    ports
        .table()
        .delete(&throttle_state_key(subject), None)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub email: String,
    pub password: String,
}

/// `POST /auth/login`. An unknown email and a wrong password get the same answer, after the
/// same work, and count against the same delays.
pub async fn login<P: Ports>(
    ports: &P,
    credentials: Credentials,
) -> Result<LoginOutcome, DomainError> {
    let email = accounts::normalise_email(&credentials.email);
    if email.is_empty()
        || credentials.password.is_empty()
        || credentials.password.len() > password::MAX_LENGTH * 4
    {
        return Err(unauthenticated());
    }
    // Attempts count against a keyed token of the email, never a plain hash of it.
    let subject = crate::lookups::load(ports).await?.token("email", &email);
    admit_attempt(ports, &subject).await?;
    let user = accounts::find_by_email(ports, &email).await?;
    let accepted = match &user {
        Some(u) => {
            password::verify(&credentials.password, &u.password_hash)
                && u.status == AccountStatus::Active
        }
        None => {
            password::verify_dummy(&credentials.password);
            false
        }
    };
    let Some(user) = user.filter(|_| accepted) else {
        record_failure(ports, &subject).await?;
        audit::record(
            ports,
            AuditEvent::new("login.failed", "failure").subject(&subject),
        )
        .await?;
        return Err(unauthenticated());
    };
    clear_failures(ports, &subject).await?;
    if user.mfa_enabled {
        if user.totp.is_none() {
            send_code(ports, "login", &user.user_id, user.phone.as_deref()).await?;
        }
        audit::record(
            ports,
            AuditEvent::new("login.mfa_challenged", "success").subject(&user.user_id),
        )
        .await?;
        let mfa_token = sign(ports, &user, TokenKind::Mfa, None).await?;
        return Ok(LoginOutcome::MfaRequired {
            mfa_required: true,
            mfa_token,
        });
    }
    audit::record(
        ports,
        AuditEvent::new("login.succeeded", "success").subject(&user.user_id),
    )
    .await?;
    Ok(LoginOutcome::Tokens(open_session(ports, &user).await?))
}

/// Signatures this process has already checked: a token is immutable, so a client sending
/// the same one again needs only its dates checked (and, for an access token, its session,
/// which `authenticate` reads every time). Saves an EdDSA verification per request.
#[derive(Default)]
struct VerifiedTokens {
    seen: std::sync::Mutex<std::collections::HashMap<(TokenKind, String), Claims>>,
}

/// Tokens remembered per process; past it the memory is cleared and refilled.
const VERIFIED_TOKENS: usize = 10_000;

impl VerifiedTokens {
    fn get(&self, kind: TokenKind, token: &str) -> Option<Claims> {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.get(&(kind, token.to_owned())).cloned()
    }
    fn remember(&self, kind: TokenKind, token: &str, claims: &Claims) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= VERIFIED_TOKENS {
            seen.clear();
        }
        seen.insert((kind, token.to_owned()), claims.clone());
    }
}

/// Verifies a token of `kind` with the current key set (re-read once for an unknown key, so a
/// rotation by another process is picked up).
async fn verify_token<P: Ports>(
    ports: &P,
    token: &str,
    kind: TokenKind,
) -> Result<Claims, DomainError> {
    let now = ports.clock().now().epoch_seconds();
    let rejected = |e: TokenError| {
        DomainError::TokenRejected(match e {
            TokenError::Expired => TokenRejection::Expired,
            _ => TokenRejection::Invalid,
        })
    };
    let verified = ports.cache().get::<VerifiedTokens>();
    if let Some(claims) = verified.get(kind, token) {
        tokens::in_date(&claims, now).map_err(rejected)?;
        return Ok(claims);
    }
    let keys = keys::verifying_keys(ports, false).await?;
    let claims = match tokens::verify(token, &keys, kind, now) {
        Err(TokenError::UnknownKey) => {
            let keys = keys::verifying_keys(ports, true).await?;
            tokens::verify(token, &keys, kind, now).map_err(rejected)
        }
        other => other.map_err(rejected),
    }?;
    verified.remember(kind, token, &claims);
    Ok(claims)
}

/// Who an access (or bypass) token speaks for; the session behind an access token must still
/// be open.
pub async fn authenticate<P: Ports>(
    ports: &P,
    token: &str,
    accept_bypass: bool,
) -> Result<Claims, DomainError> {
    let expired = DomainError::TokenRejected(TokenRejection::Expired);
    let claims = match verify_token(ports, token, TokenKind::Access).await {
        Ok(c) => c,
        Err(e) if accept_bypass => match verify_token(ports, token, TokenKind::Bypass).await {
            Ok(c) => c,
            // An expired token of either kind is the more useful thing to say.
            Err(b) if b == expired => return Err(b),
            Err(_) => return Err(e),
        },
        Err(e) => return Err(e),
    };
    if claims.kind == TokenKind::Access {
        let ended = || DomainError::TokenRejected(TokenRejection::SessionEnded);
        let family = claims.fam.as_deref().ok_or_else(ended)?;
        let session = ports
            .table()
            .get(&session_key(family))
            .await?
            .ok_or_else(ended)?;
        if session.get("revoked").and_then(Value::as_bool) != Some(false) {
            return Err(ended());
        }
    }
    Ok(claims)
}

/// Marks a token id used; a second use is refused.
async fn spend_once<P: Ports>(ports: &P, claims: &Claims) -> Result<(), DomainError> {
    let item = Item::new(&single_use_key(&claims.jti)).with(EXPIRES_AT, Value::n(claims.exp + 60));
    match ports
        .table()
        .put(item, Some(Condition::item_absent()))
        .await
    {
        Ok(()) => Ok(()),
        Err(TableError::ConditionFailed) => Err(unauthenticated()),
        Err(e) => Err(e.into()),
    }
}

/// Counts one try against `key`; refuses past `limit`.
async fn spend_try<P: Ports>(
    ports: &P,
    key: &Key,
    limit: i64,
    expires_at: i64,
) -> Result<(), DomainError> {
    let under = Condition::Or(vec![
        Condition::NotExists("tries".into()),
        Condition::Compare("tries".into(), Comparison::Lt, Value::n(limit)),
    ]);
    let update = Update::new()
        .add("tries", 1)
        .set(EXPIRES_AT, Value::n(expires_at));
    match ports.table().update(key, update, Some(under)).await {
        Ok(_) => Ok(()),
        Err(TableError::ConditionFailed) => Err(DomainError::TooManyRequests {
            retry_after_seconds: CODE_LIFETIME.as_secs(),
        }),
        Err(e) => Err(e.into()),
    }
}

fn totp_context(user_id: &str) -> EncryptionContext {
    EncryptionContext::new()
        .with("purpose", "totp-secret")
        .with("user_id", user_id)
}

async fn open_secret<P: Ports>(
    ports: &P,
    user_id: &str,
    sealed: &Envelope,
) -> Result<zeroize::Zeroizing<Vec<u8>>, DomainError> {
    envelope::open(ports.key_ring(), &totp_context(user_id), sealed)
        .await
        .map_err(|_| DomainError::Unavailable("the MFA secret cannot be opened".into()))
}

/// Accepts a TOTP code once: the step it matched is recorded under a condition, so a replay
/// (even a concurrent one) is refused and audited.
async fn accept_totp<P: Ports>(ports: &P, user: &User, code: &str) -> Result<(), DomainError> {
    let sealed = user.totp.as_ref().ok_or_else(unauthenticated)?;
    let secret = open_secret(ports, &user.user_id, sealed).await?;
    let now = ports.clock().now().epoch_seconds().max(0) as u64;
    let step = match totp::verify(&secret, code, now, user.totp_last_step) {
        Ok(step) => step,
        Err(totp::TotpError::Replayed) => {
            audit::record(
                ports,
                AuditEvent::new("mfa.totp_replayed", "refused").subject(&user.user_id),
            )
            .await?;
            return Err(unauthenticated());
        }
        Err(totp::TotpError::Invalid) => return Err(unauthenticated()),
    };
    let fresh = Condition::Or(vec![
        Condition::NotExists("totp_last_step".into()),
        Condition::Compare("totp_last_step".into(), Comparison::Lt, Value::n(step)),
    ]);
    match ports
        .table()
        .update(
            &User::key(&user.user_id),
            Update::new().set("totp_last_step", Value::n(step)),
            Some(fresh),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(TableError::ConditionFailed) => {
            audit::record(
                ports,
                AuditEvent::new("mfa.totp_replayed", "refused").subject(&user.user_id),
            )
            .await?;
            Err(unauthenticated())
        }
        Err(e) => Err(e.into()),
    }
}

/// Sends a one-time code by SMS, replacing any earlier one for the same purpose. Published
/// for other contexts (an alert's verification code).
pub async fn send_code<P: Ports>(
    ports: &P,
    purpose: &str,
    subject: &str,
    phone: Option<&str>,
) -> Result<(), DomainError> {
    let phone = phone.ok_or_else(|| {
        DomainError::invalid("phone", "this account has no phone number for codes")
    })?;
    let code = codes::one_time_code();
    let now = ports.clock().now();
    let item = Item::new(&code_key(purpose, subject))
        .with("code_hash", Value::s(codes::lookup_hash(&code)))
        .with("tries", Value::n(0))
        .with(
            EXPIRES_AT,
            Value::n(now.plus(CODE_LIFETIME).epoch_seconds()),
        );
    ports.table().put(item, None).await?;
    let text = format!("Haven code: {code}. Valid 5 minutes. Never share it.");
    ports.publisher().send_sms(phone, &text).await?;
    Ok(())
}

/// Checks a one-time code: attempt-limited, and deleted on success so it works once.
pub async fn accept_code<P: Ports>(
    ports: &P,
    purpose: &str,
    subject: &str,
    code: &str,
) -> Result<(), DomainError> {
    let key = code_key(purpose, subject);
    let stored = ports.table().get(&key).await?.ok_or_else(unauthenticated)?;
    let expires = stored.i64(EXPIRES_AT).unwrap_or(0);
    spend_try(ports, &key, CODE_ATTEMPTS, expires).await?;
    let hash = stored.s("code_hash").unwrap_or("");
    if !codes::constant_time_eq(hash, &codes::lookup_hash(code.trim())) {
        return Err(unauthenticated());
    }
    match ports
        .table()
        .delete(&key, Some(Condition::equals("code_hash", Value::s(hash))))
        .await
    {
        Ok(Some(_)) => Ok(()),
        Ok(None) | Err(TableError::ConditionFailed) => Err(unauthenticated()),
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MfaAnswer {
    pub mfa_token: String,
    pub code: String,
}

/// `POST /auth/verify`: the second step of a login that needs MFA.
pub async fn verify_mfa<P: Ports>(ports: &P, answer: MfaAnswer) -> Result<TokenPair, DomainError> {
    let claims = verify_token(ports, &answer.mfa_token, TokenKind::Mfa).await?;
    spend_try(
        ports,
        &Key::new(format!("MFATRIES#{}", claims.jti), "TRIES"),
        CODE_ATTEMPTS,
        claims.exp + 60,
    )
    .await?;
    let user = accounts::find_by_id(ports, &claims.sub)
        .await?
        .filter(|u| u.status == AccountStatus::Active)
        .ok_or_else(unauthenticated)?;
    let outcome = if user.totp.is_some() {
        accept_totp(ports, &user, &answer.code).await
    } else {
        accept_code(ports, "login", &user.user_id, &answer.code).await
    };
    if let Err(e) = outcome {
        audit::record(
            ports,
            AuditEvent::new("mfa.failed", "failure").subject(&user.user_id),
        )
        .await?;
        return Err(e);
    }
    spend_once(ports, &claims).await?;
    audit::record(
        ports,
        AuditEvent::new("login.succeeded", "success")
            .subject(&user.user_id)
            .detail("with MFA"),
    )
    .await?;
    open_session(ports, &user).await
}

/// `POST /auth/refresh`: a new pair for a refresh token, which is spent. Presenting a spent
/// token means it was stolen or replayed: the whole family is revoked.
pub async fn refresh<P: Ports>(ports: &P, token: &str) -> Result<TokenPair, DomainError> {
    let now = ports.clock().now();
    let old = ports
        .table()
        .get(&refresh_key(token))
        .await?
        .ok_or_else(unauthenticated)?;
    let (Some(user_id), Some(family)) = (old.s("user_id"), old.s("family")) else {
        return Err(unauthenticated());
    };
    if old.get("used").and_then(Value::as_bool) != Some(false) {
        revoke_session(ports, family).await?;
        audit::record(
            ports,
            AuditEvent::new("refresh.reuse_detected", "refused")
                .subject(user_id)
                .detail("session revoked"),
        )
        .await?;
        return Err(unauthenticated());
    }
    let user = accounts::find_by_id(ports, user_id)
        .await?
        .filter(|u| u.status == AccountStatus::Active)
        .ok_or_else(unauthenticated)?;
    let next = codes::opaque_token();
    let ops = vec![
        TransactOp::Update {
            key: refresh_key(token),
            update: Update::new().set("used", Value::Bool(true)),
            condition: Some(Condition::equals("used", Value::Bool(false))),
        },
        TransactOp::Update {
            key: session_key(family),
            update: Update::new().set(
                EXPIRES_AT,
                Value::n(now.plus(REFRESH_LIFETIME).epoch_seconds()),
            ),
            condition: Some(Condition::equals("revoked", Value::Bool(false))),
        },
        TransactOp::Put {
            item: refresh_item(&next, user_id, family, now),
            condition: Some(Condition::item_absent()),
        },
    ];
    match ports.table().transact_write(ops).await {
        Ok(()) => {}
        Err(TableError::TransactionCanceled(reasons)) => {
            use haven_kernel::ports::table::CancelReason;
            // Spent by a concurrent request: that is reuse too.
            if reasons.first() == Some(&CancelReason::ConditionFailed) {
                revoke_session(ports, family).await?;
                audit::record(
                    ports,
                    AuditEvent::new("refresh.reuse_detected", "refused").subject(user_id),
                )
                .await?;
            }
            return Err(unauthenticated());
        }
        Err(e) => return Err(e.into()),
    }
    Ok(TokenPair {
        access_token: sign(ports, &user, TokenKind::Access, Some(family)).await?,
        refresh_token: next,
        token_type: "Bearer",
        expires_in: TokenKind::Access.lifetime().as_secs(),
    })
}

/// `POST /auth/logout`: ends the session of a refresh token (and so its access tokens).
/// Unknown tokens are fine: logging out twice is not an error.
pub async fn logout<P: Ports>(ports: &P, token: &str) -> Result<(), DomainError> {
    let item = ports.table().get(&refresh_key(token)).await?;
    if let Some((family, user)) = item
        .as_ref()
        .and_then(|i| Some((i.s("family")?, i.s("user_id")?)))
    {
        revoke_session(ports, family).await?;
        audit::record(ports, AuditEvent::new("logout", "success").subject(user)).await?;
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MfaMethod {
    Totp,
    Sms,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MfaEnrolment {
    pub method: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otpauth_uri: Option<String>,
}

/// `POST /auth/mfa/enable`: starts enrolment. TOTP returns the secret and the provisioning
/// URI for any authenticator app; SMS sends a code to the account's phone. Either way MFA is
/// on only once `/auth/mfa/verify` accepts a code.
pub async fn enable_mfa<P: Ports>(
    ports: &P,
    user_id: &str,
    method: MfaMethod,
) -> Result<MfaEnrolment, DomainError> {
    let user = accounts::find_by_id(ports, user_id)
        .await?
        .ok_or_else(unauthenticated)?;
    match method {
        MfaMethod::Totp => {
            let secret = totp::generate_secret();
            let sealed = envelope::seal(ports.key_ring(), &totp_context(user_id), &secret)
                .await
                .map_err(|_| DomainError::Unavailable("encryption keys are unavailable".into()))?;
            let update = sealed.set_in(Update::new().remove("sms_pending"), "totp_pending");
            ports
                .table()
                .update(&User::key(user_id), update, Some(Condition::item_present()))
                .await?;
            Ok(MfaEnrolment {
                method: "totp",
                secret: Some(totp::secret_base32(&secret)),
                otpauth_uri: Some(totp::provisioning_uri(&secret, TOTP_ISSUER, &user.email)),
            })
        }
        MfaMethod::Sms => {
            send_code(ports, "enrol", user_id, user.phone.as_deref()).await?;
            ports
                .table()
                .update(
                    &User::key(user_id),
                    Update::new().set("sms_pending", Value::Bool(true)),
                    Some(Condition::item_present()),
                )
                .await?;
            Ok(MfaEnrolment {
                method: "sms",
                secret: None,
                otpauth_uri: None,
            })
        }
    }
}

/// `POST /auth/mfa/verify`: confirms enrolment with a first code; MFA is on from the next login.
pub async fn confirm_mfa<P: Ports>(
    ports: &P,
    user_id: &str,
    code: &str,
) -> Result<(), DomainError> {
    let key = User::key(user_id);
    let item = ports.table().get(&key).await?.ok_or_else(unauthenticated)?;
    let user = User::from_item(&item).ok_or_else(unauthenticated)?;
    let invalid = || DomainError::invalid("code", "the code is not valid");
    let update = if let Some(pending) = &user.totp_pending {
        let secret = open_secret(ports, user_id, pending).await?;
        let now = ports.clock().now().epoch_seconds().max(0) as u64;
        let step = totp::verify(&secret, code, now, None).map_err(|_| invalid())?;
        let update = Update::new()
            .set("mfa_enabled", Value::Bool(true))
            .set("totp_last_step", Value::n(step))
            .add("version", 1);
        Envelope::remove_from(pending.set_in(update, "totp"), "totp_pending")
    } else if item.get("sms_pending").and_then(Value::as_bool) == Some(true) {
        accept_code(ports, "enrol", user_id, code)
            .await
            .map_err(|_| invalid())?;
        let update = Update::new()
            .set("mfa_enabled", Value::Bool(true))
            .remove("sms_pending")
            .add("version", 1);
        // SMS replaces an older TOTP enrolment.
        Envelope::remove_from(update, "totp")
    } else {
        return Err(DomainError::conflict(
            "start MFA enrolment with /auth/mfa/enable first",
        ));
    };
    ports
        .table()
        .update(&key, update, Some(Condition::version_is(user.version)))
        .await?;
    audit::record(
        ports,
        AuditEvent::new("mfa.enabled", "success").subject(user_id),
    )
    .await?;
    Ok(())
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BypassRequest {
    #[serde(default)]
    pub emergency_credential: Option<String>,
    #[serde(default)]
    pub phone_number: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum BypassOutcome {
    Token {
        access_token: String,
        token_type: &'static str,
        expires_in: u64,
        scope: &'static str,
    },
    CodeSent {
        code_sent: bool,
    },
}

/// `POST /auth/emergency-bypass`: a person who cannot sign in still raises an alert. The
/// device credential, or a phone verified by an SMS code, yields a short token that may only
/// create, update and cancel one alert. Every use is audited; an unknown phone gets the same
/// answer as a known one.
pub async fn emergency_bypass<P: Ports>(
    ports: &P,
    request: BypassRequest,
) -> Result<BypassOutcome, DomainError> {
    let user = match (
        &request.emergency_credential,
        &request.phone_number,
        &request.code,
    ) {
        (Some(credential), None, None) => {
            let user = accounts::find_by_emergency_credential(ports, credential.trim()).await?;
            match user.filter(|u| u.status == AccountStatus::Active && u.role == Role::Patient) {
                Some(u) => u,
                None => {
                    audit::record(ports, AuditEvent::new("bypass.credential", "refused")).await?;
                    return Err(unauthenticated());
                }
            }
        }
        (None, Some(phone), None) => {
            haven_kernel::ports::publisher::validate_phone_number(phone).map_err(|_| {
                DomainError::invalid(
                    "phone_number",
                    "a phone number must be in E.164 form, like +254712345678",
                )
            })?;
            let subject = crate::lookups::load(ports).await?.token("phone", phone);
            if let Some(u) = accounts::find_by_phone(ports, phone)
                .await?
                .filter(|u| u.status == AccountStatus::Active)
            {
                send_code(ports, "bypass", &subject, Some(phone)).await?;
                audit::record(
                    ports,
                    AuditEvent::new("bypass.code_sent", "success").subject(&u.user_id),
                )
                .await?;
            }
            return Ok(BypassOutcome::CodeSent { code_sent: true });
        }
        (None, Some(phone), Some(code)) => {
            let subject = crate::lookups::load(ports).await?.token("phone", phone);
            accept_code(ports, "bypass", &subject, code).await?;
            accounts::find_by_phone(ports, phone)
                .await?
                .filter(|u| u.status == AccountStatus::Active)
                .ok_or_else(unauthenticated)?
        }
        _ => {
            return Err(DomainError::invalid(
                "emergency_credential",
                "send either emergency_credential, or phone_number (then phone_number and code)",
            ));
        }
    };
    let mut bypass_user = user.clone();
    // A bypass token acts as the patient, never with staff rights.
    bypass_user.role = Role::Patient;
    bypass_user.hospital_id = None;
    let token = sign(ports, &bypass_user, TokenKind::Bypass, None).await?;
    audit::record(
        ports,
        AuditEvent::new("bypass.token_issued", "success").subject(&user.user_id),
    )
    .await?;
    Ok(BypassOutcome::Token {
        access_token: token,
        token_type: "Bearer",
        expires_in: TokenKind::Bypass.lifetime().as_secs(),
        scope: "emergency",
    })
}
