//! comms: telling hospitals about alerts. HTTP handlers for webhook endpoints, answers
//! (signed in, or through an acknowledgement link), a dispatcher's "send again" and "move
//! on", and the delivery status; the queue workers (webhook, SMS, hospital API, deadlines);
//! and the outbox relay. Handlers are thin: the rules are in `haven_alerts::comms`.

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use haven_alerts::comms::endpoint::{self, Format};
use haven_alerts::comms::escalation::{self, Responder};
use haven_alerts::comms::workers::{self, Verdict};
use haven_alerts::comms::{Decision, links, status as comms_status};
use haven_alerts::emergencies::handoff;
use haven_alerts::emergencies::view::Viewer;
use haven_alerts::hospitals::manage::Actor;
use haven_edge::json::{DEFAULT_BODY_LIMIT, is_form};
use haven_edge::{
    ApiError, Caller, HandlerResult, html_response, json_response, parse_json, parse_json_or_form,
    path_param, wants_html,
};
use haven_kernel::DomainError;
use haven_kernel::catalogue::{DEADLINES_QUEUE, HOSPITAL_API_QUEUE, SMS_QUEUE, WEBHOOK_QUEUE};
use haven_kernel::ports::{Ports, Queue};

pub mod answer_page;
use http::StatusCode;
use lambda_http::Request;
use lambda_runtime::LambdaEvent;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookSettings {
    url: String,
    #[serde(default)]
    formats: Option<Vec<Format>>,
}

/// `PUT /hospitals/{id}/webhook` → `{url, formats, secret}`.
pub async fn webhook_configure<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let id = path_param(&req, "id")?;
    let body: WebhookSettings = parse_json(&req, DEFAULT_BODY_LIMIT)?;
    let actor = Actor::of(caller.claims()?);
    let configured = endpoint::configure(ports, &actor, id, &body.url, body.formats).await?;
    json_response(StatusCode::OK, &configured)
}

/// `POST /hospitals/{id}/webhook/rotate` → `{secret, previous_valid_until}`.
pub async fn webhook_rotate<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let id = path_param(&req, "id")?;
    let actor = Actor::of(caller.claims()?);
    json_response(StatusCode::OK, &endpoint::rotate(ports, &actor, id).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Ack {
    alert_id: String,
    decision: Decision,
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /hospital/comms/ack` `{alert_id, decision, reason?}` by the hospital's staff.
pub async fn ack<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let body: Ack = parse_json(&req, DEFAULT_BODY_LIMIT)?;
    let responder = Responder::of(caller.claims()?);
    let answer = escalation::answer(
        ports,
        &responder,
        &body.alert_id,
        body.decision,
        body.reason.as_deref(),
    )
    .await?;
    json_response(StatusCode::OK, &answer)
}

/// The answer page, or its not-found page, for a browser.
async fn answer_page<P: Ports>(
    ports: &P,
    token: &str,
    banner: Option<&answer_page::Banner>,
    status: StatusCode,
) -> HandlerResult {
    let offset = ports.comms().utc_offset_minutes;
    Ok(match links::show(ports, token).await {
        Ok(view) => html_response(status, answer_page::render(&view, banner, offset)),
        Err(DomainError::NotFound(_)) => {
            html_response(StatusCode::NOT_FOUND, answer_page::not_found())
        }
        Err(e) => return Err(e.into()),
    })
}

/// `GET /hospital/comms/ack/{token}`: what the link answers, without answering it (so a
/// link preview cannot accept an alert). A browser gets the answer page; programs get JSON.
pub async fn ack_link<P: Ports>(ports: &P, _caller: Caller, req: Request) -> HandlerResult {
    let Ok(token) = path_param(&req, "token") else {
        return if wants_html(&req) {
            Ok(html_response(
                StatusCode::NOT_FOUND,
                answer_page::not_found(),
            ))
        } else {
            Err(ApiError::NotFound("acknowledgement link".into()))
        };
    };
    if wants_html(&req) {
        return answer_page(ports, token, None, StatusCode::OK).await;
    }
    json_response(StatusCode::OK, &links::show(ports, token).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkAnswer {
    decision: Decision,
    #[serde(default)]
    reason: Option<String>,
    /// The page's free-text box beside the chosen reason.
    #[serde(default)]
    details: Option<String>,
}

impl LinkAnswer {
    fn reason(&self) -> Option<String> {
        match (&self.reason, &self.details) {
            (Some(r), Some(d)) => Some(format!("{r}: {d}")),
            (r, d) => r.clone().or_else(|| d.clone()),
        }
    }
}

/// `POST /hospital/comms/ack/{token}` `{decision, reason?}` as JSON or a plain HTML form:
/// the answer from an SMS or a webhook's `ack_url`, for the hospital the link was made for.
/// A form post (the answer page) gets the page back, saying what happened.
pub async fn ack_link_answer<P: Ports>(ports: &P, _caller: Caller, req: Request) -> HandlerResult {
    let page = is_form(&req) || wants_html(&req);
    let token = match path_param(&req, "token") {
        Ok(t) => t,
        Err(_) if page => {
            return Ok(html_response(
                StatusCode::NOT_FOUND,
                answer_page::not_found(),
            ));
        }
        Err(e) => return Err(e),
    };
    let outcome = answer_by_link(ports, token, &req, page).await;
    if !page {
        return json_response(StatusCode::OK, &outcome?);
    }
    match outcome {
        Ok(answer) => {
            let banner = answer_page::Banner::Recorded(answer.decision);
            answer_page(ports, token, Some(&banner), StatusCode::OK).await
        }
        Err(ApiError::NotFound(_)) => Ok(html_response(
            StatusCode::NOT_FOUND,
            answer_page::not_found(),
        )),
        Err(e) if e.kind().0.is_server_error() => Err(e),
        // A second answer, a closed alert, a missing reason: the page again, saying so.
        Err(e) => {
            let banner = answer_page::Banner::Refused(e.to_string());
            answer_page(ports, token, Some(&banner), e.kind().0).await
        }
    }
}

async fn answer_by_link<P: Ports>(
    ports: &P,
    token: &str,
    req: &Request,
    page: bool,
) -> Result<escalation::AnswerView, ApiError> {
    let body: LinkAnswer = parse_json_or_form(req, DEFAULT_BODY_LIMIT)?;
    let reason = body.reason();
    // The page asks why; the dispatcher moving the alert on reads it.
    if page && body.decision == Decision::Decline && reason.is_none() {
        return Err(ApiError::invalid(
            "reason",
            "say why you decline, so the dispatcher knows",
        ));
    }
    reason_ok(reason.as_deref())?;
    let (alert_id, hospital_id) = links::resolve(ports, token).await?;
    Ok(escalation::answer(
        ports,
        &Responder::Link { hospital_id },
        &alert_id,
        body.decision,
        reason.as_deref(),
    )
    .await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendAgain {
    alert_id: String,
    #[serde(default)]
    hospital_id: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

fn reason_ok(reason: Option<&str>) -> Result<(), ApiError> {
    match reason {
        Some(r) if r.chars().count() > escalation::MAX_REASON_CHARS => Err(ApiError::invalid(
            "reason",
            format!(
                "a reason has at most {} characters",
                escalation::MAX_REASON_CHARS
            ),
        )),
        _ => Ok(()),
    }
}

/// What a dispatcher sees after acting: the alert's comms status.
async fn status_after<P: Ports>(ports: &P, viewer: &Viewer, alert_id: &str) -> HandlerResult {
    json_response(
        StatusCode::OK,
        &comms_status::status(ports, viewer, alert_id).await?,
    )
}

/// `POST /hospital/comms/alert` `{alert_id, hospital_id?, reason?}`: send again to the
/// hospital being asked, or to the hospital named.
pub async fn send_again<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let body: SendAgain = parse_json(&req, DEFAULT_BODY_LIMIT)?;
    reason_ok(body.reason.as_deref())?;
    let viewer = Viewer::of(caller.claims()?);
    escalation::send_again(
        ports,
        &viewer,
        &body.alert_id,
        body.hospital_id.as_deref(),
        body.reason.as_deref(),
    )
    .await?;
    status_after(ports, &viewer, &body.alert_id).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fallback {
    alert_id: String,
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /hospital/comms/fallback` `{alert_id, reason?}`: a dispatcher moves the alert to
/// the next fallback hospital now.
pub async fn fallback<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let body: Fallback = parse_json(&req, DEFAULT_BODY_LIMIT)?;
    reason_ok(body.reason.as_deref())?;
    let viewer = Viewer::of(caller.claims()?);
    escalation::force_fallback(ports, &viewer, &body.alert_id, body.reason.as_deref()).await?;
    status_after(ports, &viewer, &body.alert_id).await
}

/// `GET /hospital/comms/status/{alert_id}`.
pub async fn status<P: Ports>(ports: &P, caller: Caller, req: Request) -> HandlerResult {
    let alert_id = path_param(&req, "alert_id")?;
    status_after(ports, &Viewer::of(caller.claims()?), alert_id).await
}

/// One SQS record: its verdict carried out. `Err` reports the record as failed, so the
/// event source leaves it in the queue (with the visibility the verdict set).
async fn record<P: Ports>(ports: &P, queue: &str, message: &SqsMessage) -> Result<(), ()> {
    let body = message.body.as_deref().unwrap_or("");
    let receive_count = message
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|c| c.parse().ok())
        .unwrap_or(1);
    match workers::handle(ports, queue, body, receive_count).await {
        Verdict::Done => Ok(()),
        Verdict::RetryIn(wait) => {
            if let Some(receipt) = message.receipt_handle.as_deref()
                && let Err(e) = ports.queue().change_visibility(queue, receipt, wait).await
            {
                tracing::warn!(queue, error = %e, "retry delay not set; the queue's own timeout applies");
            }
            Err(())
        }
        Verdict::Park(reason) => workers::park(ports, queue, body, &reason)
            .await
            .map_err(|e| {
                tracing::warn!(queue, error = %e, "not parked; it comes back and redrive takes it");
            }),
    }
}

/// A batch from one queue: every message on its own and at once (the webhook time limit is
/// per message, the function's per batch), failures reported item by item.
async fn batch<P: Ports>(ports: &P, queue: &str, event: LambdaEvent<SqsEvent>) -> SqsBatchResponse {
    let records = &event.payload.records;
    let outcomes = futures::future::join_all(records.iter().map(|m| record(ports, queue, m))).await;
    let mut response = SqsBatchResponse::default();
    for (message, outcome) in records.iter().zip(outcomes) {
        if outcome.is_err() {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = message.message_id.clone().unwrap_or_default();
            response.batch_item_failures.push(failure);
        }
    }
    response
}

type WorkerResult = Result<SqsBatchResponse, lambda_runtime::Error>;

/// The `webhook` queue: signed deliveries to hospitals' endpoints.
pub async fn webhook_worker<P: Ports>(ports: &P, event: LambdaEvent<SqsEvent>) -> WorkerResult {
    Ok(batch(ports, WEBHOOK_QUEUE, event).await)
}

/// The `sms` queue: texts to hospitals' emergency desks.
pub async fn sms_worker<P: Ports>(ports: &P, event: LambdaEvent<SqsEvent>) -> WorkerResult {
    Ok(batch(ports, SMS_QUEUE, event).await)
}

/// The `hospital-api` queue: the alert into the hospital's Haven inbox.
pub async fn hospital_api_worker<P: Ports>(
    ports: &P,
    event: LambdaEvent<SqsEvent>,
) -> WorkerResult {
    Ok(batch(ports, HOSPITAL_API_QUEUE, event).await)
}

/// The `deadlines` queue: answer deadlines that came due.
pub async fn deadline_worker<P: Ports>(ports: &P, event: LambdaEvent<SqsEvent>) -> WorkerResult {
    Ok(batch(ports, DEADLINES_QUEUE, event).await)
}

/// The outbox relay, on a schedule: publishes alert events that were stored but not
/// published (a crash or an outage between the two).
pub async fn outbox_relay<P: Ports>(
    ports: &P,
    _event: LambdaEvent<serde_json::Value>,
) -> Result<serde_json::Value, lambda_runtime::Error> {
    let report = handoff::relay(ports, 100).await?;
    Ok(serde_json::to_value(report)?)
}

#[cfg(test)]
mod handler_tests;
