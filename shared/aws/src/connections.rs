//! The Connections port on API Gateway's management API (`POST @connections/{id}`).

use aws_sdk_apigatewaymanagement::Client;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use haven_kernel::ports::{ConnectionError, Connections};

use crate::error::Failure;

const NO_ENDPOINT: &str = "no websocket endpoint configured";

#[derive(Clone)]
pub struct ApiGatewayConnections {
    /// `None` when no endpoint is configured: every post fails rather than guessing one.
    client: Option<Client>,
}

impl std::fmt::Debug for ApiGatewayConnections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiGatewayConnections")
            .field("configured", &self.client.is_some())
            .finish()
    }
}

impl ApiGatewayConnections {
    /// `endpoint`: `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}` on AWS (the
    /// management API lives under the stage), or any base URL serving `/@connections`.
    pub fn new(sdk: &aws_config::SdkConfig, endpoint: Option<&str>) -> Self {
        let client = endpoint.filter(|e| !e.is_empty()).map(|endpoint| {
            let config = aws_sdk_apigatewaymanagement::config::Builder::from(sdk)
                .endpoint_url(endpoint.trim_end_matches('/'))
                .build();
            Client::from_conf(config)
        });
        ApiGatewayConnections { client }
    }

    pub fn client(&self) -> Option<&Client> {
        self.client.as_ref()
    }
}

impl Connections for ApiGatewayConnections {
    async fn post(&self, connection_id: &str, payload: &[u8]) -> Result<(), ConnectionError> {
        let client = self
            .client
            .as_ref()
            .ok_or_else(|| ConnectionError::Failed(NO_ENDPOINT.into()))?;
        if connection_id.is_empty() {
            // Nothing to post to: the same as a connection that has gone.
            return Err(ConnectionError::Gone);
        }
        match client
            .post_to_connection()
            .connection_id(connection_id)
            .data(Blob::new(payload))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let failure = Failure::of(&e);
                if failure.code_is(&["GoneException"]) {
                    Err(ConnectionError::Gone)
                } else {
                    tracing::warn!(error = %failure.summary, "PostToConnection failed");
                    Err(ConnectionError::Failed(failure.summary))
                }
            }
        }
    }
}
