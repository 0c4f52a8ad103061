//! The glue every Lambda function shares: problem+json errors, JSON bodies, request ids,
//! structured logs, CORS, and the route catalogue.

pub mod auth;
pub mod catalogue;
pub mod cors;
pub mod html;
pub mod json;
pub mod logging;
pub mod permissions;
pub mod problem;
pub mod respond;
#[cfg(feature = "testing")]
pub mod testing;
pub mod versions;

pub use auth::Caller;
pub use catalogue::{Access, CATALOGUE, HttpRoute, RouteMatch, match_route};
pub use html::{escape_html, html_response, wants_html};
pub use json::{
    json_response, no_content, page_cursor, page_limit, parse_json, parse_json_or_form, path_param,
    query_param, raw_body,
};
pub use problem::ApiError;
pub use respond::{HandlerResult, no_store, request_id, respond};
pub use versions::{etag, if_match, version_of_etag, with_etag};
