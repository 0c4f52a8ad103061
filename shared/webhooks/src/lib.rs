//! Webhook delivery over real HTTP: on AWS from the webhook worker, locally from the gateway.
//! TLS is rustls with AWS-LC (the crypto the AWS SDK already links, so no second library)
//! and the system's root certificates. Redirects are not followed: a receiver that moved
//! must be configured again, so a delivery cannot be bounced to another host.

use std::time::Duration;

use haven_kernel::ports::{WebhookError, WebhookResponse, Webhooks};

#[derive(Clone)]
pub struct HttpWebhooks {
    client: reqwest::Client,
}

/// Makes AWS-LC the process's rustls provider (reqwest's rustls needs one chosen). Safe to
/// call more than once.
pub fn install_default_crypto() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

impl HttpWebhooks {
    pub fn new() -> Self {
        install_default_crypto();
        let mut roots = rustls::RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        let (added, _) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            tracing::warn!("no system root certificates found; https webhooks will fail");
        }
        let builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent("Haven-Webhooks/1");
        let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map(|b| b.with_root_certificates(roots).with_no_client_auth());
        let client = match tls {
            Ok(config) => builder.use_preconfigured_tls(config).build(),
            Err(_) => builder.build(),
        };
        HttpWebhooks {
            client: client.unwrap_or_default(),
        }
    }
}

impl Default for HttpWebhooks {
    fn default() -> Self {
        Self::new()
    }
}

/// `Retry-After` as seconds or an HTTP date.
fn retry_after(value: &str) -> Option<Duration> {
    if let Ok(seconds) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value.trim()).ok()?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

impl Webhooks for HttpWebhooks {
    async fn post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: &str,
        timeout: Duration,
    ) -> Result<WebhookResponse, WebhookError> {
        let mut request = self.client.post(url).timeout(timeout).body(body.to_owned());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        match request.send().await {
            Ok(response) => Ok(WebhookResponse {
                status: response.status().as_u16(),
                retry_after: response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(retry_after),
            }),
            Err(e) if e.is_timeout() => Err(WebhookError::Timeout(timeout)),
            Err(e) if e.is_connect() => Err(WebhookError::Connect(e.to_string())),
            Err(e) => Err(WebhookError::Other(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;

    async fn serve(app: axum::Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn carries_status_retry_after_and_time_limits() {
        let app = axum::Router::new()
            .route(
                "/ok",
                axum::routing::post(|headers: axum::http::HeaderMap, body: String| async move {
                    let id = headers
                        .get("webhook-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned();
                    (StatusCode::NO_CONTENT, [("x-echo", format!("{id}:{body}"))])
                }),
            )
            .route(
                "/busy",
                axum::routing::post(|| async {
                    (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "7")]).into_response()
                }),
            )
            .route(
                "/slow",
                axum::routing::post(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    StatusCode::OK
                }),
            );
        let base = serve(app).await;
        let hooks = HttpWebhooks::new();
        let headers = vec![("webhook-id".to_owned(), "msg_1".to_owned())];
        let ok = hooks
            .post(
                &format!("{base}/ok"),
                &headers,
                "{}",
                Duration::from_secs(5),
            )
            .await
            .expect("answer");
        assert_eq!(ok.status, 204);
        let busy = hooks
            .post(
                &format!("{base}/busy"),
                &headers,
                "{}",
                Duration::from_secs(5),
            )
            .await
            .expect("answer");
        assert_eq!(
            (busy.status, busy.retry_after),
            (429, Some(Duration::from_secs(7)))
        );
        let slow = hooks
            .post(
                &format!("{base}/slow"),
                &headers,
                "{}",
                Duration::from_millis(200),
            )
            .await;
        assert_eq!(slow, Err(WebhookError::Timeout(Duration::from_millis(200))));
        let refused = hooks
            .post(
                "http://127.0.0.1:9/",
                &headers,
                "{}",
                Duration::from_secs(2),
            )
            .await
            .expect_err("nobody listens on port 9");
        assert_eq!(refused.code(), "connection_failed");
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
    }
}
