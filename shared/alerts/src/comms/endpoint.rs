//! A hospital's webhook endpoint: where deliveries go, which formats it wants, and its
//! signing secrets, sealed (envelope encryption under the hospital's id) so the table never
//! holds one in clear. Rotation keeps the previous secret signing too for a day, so a
//! hospital can switch its receiver over without dropping a delivery.

use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::comms::CommsSettings;
use crate::comms::signing::Secret;
use crate::hospitals::Channel;
use crate::hospitals::manage::{self, Actor};
use haven_kernel::Timestamp;
use haven_kernel::envelope::{self, Envelope};
use haven_kernel::error::DomainError;
use haven_kernel::item::{Item, Key};
use haven_kernel::ports::{Condition, EncryptionContext, Ports, Table, TableError};
use haven_kernel::roles::Role;

/// How long the previous secret keeps signing after a rotation.
pub const ROTATION_OVERLAP: Duration = Duration::from_secs(24 * 3600);
const SEALED: &str = "secrets";
const MAX_URL_CHARS: usize = 2048;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// A FHIR R4 Bundle in the `fhir` field (always sent).
    Fhir,
    /// An HL7 v2.5 ADT^A04 message in the `hl7v2` field, as well.
    Hl7v2,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEndpoint {
    pub hospital_id: String,
    pub url: String,
    pub formats: Vec<Format>,
    /// Until when the previous secret signs too.
    #[serde(default)]
    pub previous_until: Option<String>,
    #[serde(default)]
    pub disabled_at: Option<String>,
    #[serde(default)]
    pub disabled_reason: Option<String>,
    pub updated_at: String,
    pub version: i64,
}

/// The secrets as sealed: current, and the previous one during a rotation.
#[derive(Serialize, Deserialize)]
struct SealedSecrets {
    current: String,
    #[serde(default)]
    previous: Option<String>,
}

pub fn key(hospital_id: &str) -> Key {
    Key::new(format!("HOSPITAL#{hospital_id}"), "WEBHOOK")
}

fn context(hospital_id: &str) -> EncryptionContext {
    EncryptionContext::new()
        .with("purpose", "webhook-secret")
        .with("hospital_id", hospital_id)
}

/// Checks a receiver URL: https (http only where private hosts are allowed, for local
/// development), no credentials, and, unless allowed, no loopback, private or link-local
/// address, so a hospital admin cannot point Haven at its own network.
pub fn validate_url(text: &str, settings: &CommsSettings) -> Result<url::Url, DomainError> {
    let bad = |why: &str| DomainError::invalid("url", why.to_owned());
    if text.chars().count() > MAX_URL_CHARS {
        return Err(bad("a URL has at most 2048 characters"));
    }
    let url = url::Url::parse(text).map_err(|_| bad("not a valid absolute URL"))?;
    match url.scheme() {
        "https" => {}
        "http" if settings.allow_private_webhooks => {}
        _ => return Err(bad("the URL must use https")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "credentials do not belong in the URL; use the signing secret",
        ));
    }
    if url.fragment().is_some() {
        return Err(bad("a webhook URL has no #fragment"));
    }
    let private = match url.host() {
        None => return Err(bad("the URL has no host")),
        Some(url::Host::Domain(d)) => {
            let d = d.to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost") || d.ends_with(".internal")
        }
        Some(url::Host::Ipv4(ip)) => is_private(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => is_private(IpAddr::V6(ip)),
    };
    if private && !settings.allow_private_webhooks {
        return Err(bad("the URL points at a private or local address"));
    }
    Ok(url)
}

fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.octets()[0] == 100 && (v4.octets()[1] & 0xC0) == 64
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_private(IpAddr::V4(v4)))
        }
    }
}

fn may_manage(actor: &Actor, hospital_id: &str) -> bool {
    actor.role == Role::SystemAdmin
        || actor.role == Role::HospitalAdmin && actor.works_at(hospital_id)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfiguredWebhook {
    pub url: String,
    pub formats: Vec<Format>,
    /// `whsec_...`: shown to the hospital's admin, never stored in clear.
    pub secret: String,
}

async fn load_item<P: Ports>(
    ports: &P,
    hospital_id: &str,
) -> Result<Option<(WebhookEndpoint, Envelope)>, DomainError> {
    let Some(item) = ports.table().get(&key(hospital_id)).await? else {
        return Ok(None);
    };
    let endpoint: WebhookEndpoint = item.to_record().ok_or(DomainError::Unreadable)?;
    let sealed = Envelope::read_from(&item, SEALED).ok_or(DomainError::Unreadable)?;
    Ok(Some((endpoint, sealed)))
}

async fn open_secrets<P: Ports>(
    ports: &P,
    hospital_id: &str,
    sealed: &Envelope,
) -> Result<SealedSecrets, DomainError> {
    let plain = envelope::open(ports.key_ring(), &context(hospital_id), sealed)
        .await
        .map_err(|e| match e {
            envelope::EnvelopeError::KeyRing(_) => {
                DomainError::Unavailable("encryption keys are unavailable".into())
            }
            envelope::EnvelopeError::Unreadable => DomainError::Unreadable,
        })?;
    serde_json::from_slice(&plain).map_err(|_| DomainError::Unreadable)
}

async fn store<P: Ports>(
    ports: &P,
    endpoint: &WebhookEndpoint,
    secrets: &SealedSecrets,
    expected_version: Option<i64>,
) -> Result<(), DomainError> {
    let plain = zeroize::Zeroizing::new(serde_json::to_vec(secrets).unwrap_or_default());
    let sealed = envelope::seal(ports.key_ring(), &context(&endpoint.hospital_id), &plain)
        .await
        .map_err(|_| DomainError::Unavailable("encryption keys are unavailable".into()))?;
    let mut item = Item::new(&key(&endpoint.hospital_id)).with_record(endpoint);
    sealed.write_to(&mut item, SEALED);
    let condition = match expected_version {
        Some(v) => Condition::version_is(v),
        None => Condition::item_absent(),
    };
    match ports.table().put(item, Some(condition)).await {
        Ok(()) => Ok(()),
        Err(TableError::ConditionFailed) => Err(DomainError::conflict(
            "the webhook was changed at the same time; try again",
        )),
        Err(e) => Err(e.into()),
    }
}

/// `PUT /hospitals/{id}/webhook`: sets where the hospital's deliveries go. The first call
/// makes the signing secret; later calls keep it (a receiver keeps working) and re-enable an
/// endpoint that a 410 disabled. The secret is returned to the admin each time.
pub async fn configure<P: Ports>(
    ports: &P,
    actor: &Actor,
    hospital_id: &str,
    url: &str,
    formats: Option<Vec<Format>>,
) -> Result<ConfiguredWebhook, DomainError> {
    manage::load(ports, hospital_id).await?;
    if !may_manage(actor, hospital_id) {
        return Err(DomainError::Forbidden);
    }
    let url = validate_url(url, ports.comms())?;
    let mut formats = formats.unwrap_or_else(|| vec![Format::Fhir]);
    if !formats.contains(&Format::Fhir) {
        formats.insert(0, Format::Fhir);
    }
    formats.sort_by_key(|f| *f as u8);
    formats.dedup();
    let now = ports.clock().now().to_rfc3339();
    let existing = load_item(ports, hospital_id).await?;
    let (secrets, version) = match &existing {
        Some((endpoint, sealed)) => (
            open_secrets(ports, hospital_id, sealed).await?,
            Some(endpoint.version),
        ),
        None => (
            SealedSecrets {
                current: Secret::generate().reveal(),
                previous: None,
            },
            None,
        ),
    };
    let endpoint = WebhookEndpoint {
        hospital_id: hospital_id.to_owned(),
        url: url.to_string(),
        formats: formats.clone(),
        previous_until: existing
            .as_ref()
            .and_then(|(e, _)| e.previous_until.clone()),
        disabled_at: None,
        disabled_reason: None,
        updated_at: now,
        version: version.unwrap_or(0) + 1,
    };
    store(ports, &endpoint, &secrets, version).await?;
    manage::set_channel(ports, hospital_id, Channel::Webhook, true).await?;
    Ok(ConfiguredWebhook {
        url: endpoint.url,
        formats,
        secret: secrets.current.clone(),
    })
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RotatedSecret {
    pub secret: String,
    /// Until when the previous secret signs deliveries as well.
    pub previous_valid_until: String,
}

/// `POST /hospitals/{id}/webhook/rotate`: a new secret; the old one keeps signing, as a
/// second signature, for [`ROTATION_OVERLAP`].
pub async fn rotate<P: Ports>(
    ports: &P,
    actor: &Actor,
    hospital_id: &str,
) -> Result<RotatedSecret, DomainError> {
    manage::load(ports, hospital_id).await?;
    if !may_manage(actor, hospital_id) {
        return Err(DomainError::Forbidden);
    }
    let (mut endpoint, sealed) = load_item(ports, hospital_id)
        .await?
        .ok_or_else(|| DomainError::NotFound("webhook".into()))?;
    let old = open_secrets(ports, hospital_id, &sealed).await?;
    let now = ports.clock().now();
    let until = now.plus(ROTATION_OVERLAP).to_rfc3339();
    let secrets = SealedSecrets {
        current: Secret::generate().reveal(),
        previous: Some(old.current.clone()),
    };
    let version = endpoint.version;
    endpoint.previous_until = Some(until.clone());
    endpoint.updated_at = now.to_rfc3339();
    endpoint.version = version + 1;
    store(ports, &endpoint, &secrets, Some(version)).await?;
    Ok(RotatedSecret {
        secret: secrets.current.clone(),
        previous_valid_until: until,
    })
}

/// An endpoint ready to deliver to: its settings and the secrets that sign now.
pub struct Signing {
    pub endpoint: WebhookEndpoint,
    pub secrets: Vec<Secret>,
}

/// The hospital's endpoint and its signing secrets, or `None` when it has none.
pub async fn for_delivery<P: Ports>(
    ports: &P,
    hospital_id: &str,
    now: Timestamp,
) -> Result<Option<Signing>, DomainError> {
    let Some((endpoint, sealed)) = load_item(ports, hospital_id).await? else {
        return Ok(None);
    };
    let opened = open_secrets(ports, hospital_id, &sealed).await?;
    let mut secrets: Vec<Secret> = Secret::parse(&opened.current).into_iter().collect();
    let overlapping = endpoint
        .previous_until
        .as_deref()
        .and_then(Timestamp::parse_rfc3339)
        .is_some_and(|until| now < until);
    if overlapping && let Some(previous) = opened.previous.as_deref().and_then(Secret::parse) {
        secrets.push(previous);
    }
    Ok(Some(Signing { endpoint, secrets }))
}

/// A receiver answered 410 Gone: stop sending until an admin configures it again.
pub async fn disable<P: Ports>(
    ports: &P,
    hospital_id: &str,
    reason: &str,
) -> Result<(), DomainError> {
    if let Some((mut endpoint, sealed)) = load_item(ports, hospital_id).await? {
        let version = endpoint.version;
        endpoint.disabled_at = Some(ports.clock().now().to_rfc3339());
        endpoint.disabled_reason = Some(reason.to_owned());
        endpoint.version = version + 1;
        let mut item = Item::new(&key(hospital_id)).with_record(&endpoint);
        sealed.write_to(&mut item, SEALED);
        match ports
            .table()
            .put(item, Some(Condition::version_is(version)))
            .await
        {
            Ok(()) | Err(TableError::ConditionFailed) => {}
            Err(e) => return Err(e.into()),
        }
    }
    manage::set_channel(ports, hospital_id, Channel::Webhook, false).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_public_https_without_credentials() {
        let strict = CommsSettings::default();
        let local = CommsSettings {
            allow_private_webhooks: true,
            ..CommsSettings::default()
        };
        assert!(validate_url("https://er.knh.example/haven", &strict).is_ok());
        for bad in [
            "http://er.knh.example/haven",
            "https://user:pw@er.knh.example/",
            "https://127.0.0.1/hook",
            "https://10.0.0.5/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/hook",
            "https://localhost:8080/hook",
            "ftp://er.knh.example/",
            "not a url",
        ] {
            let err = validate_url(bad, &strict).expect_err(bad);
            assert_eq!(err.field(), Some("url"), "{bad}");
        }
        assert!(validate_url("http://127.0.0.1:9000/hook", &local).is_ok());
    }
}
