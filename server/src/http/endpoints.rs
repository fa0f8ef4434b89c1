//! `/app/{app_id}/endpoint/{*route}` (any method): the app's HTTPS endpoints and the Data API.
//! Extract the request, hand it to `endpoints::Endpoints`, send its reply as it is.

use super::error::ApiError;
use super::extract::ClientIp;
use super::{require_app, AppState};
use crate::endpoints::{Reply, Request};
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;

/// Marks an answer an endpoint's function made: sent as it is, even with an error status and a
/// body that is not JSON (the JSON-errors layer leaves it alone).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Verbatim;

/// The endpoint routes (of the served app only).
pub(super) fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/app/{app_id}/endpoint/{*route}", any(endpoint))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), require_app))
}

async fn endpoint(
    State(state): State<AppState>,
    Path((_app_id, route)): Path<(String, String)>,
    ClientIp(client): ClientIp,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    // The whole body within --body-timeout (a client trickling bytes does not hold a slot).
    let limit = state.settings.limits.body_timeout;
    let read = tokio::time::timeout(limit, Bytes::from_request(request, &state))
        .await
        .map_err(|_| ApiError::new(StatusCode::REQUEST_TIMEOUT, "RequestTimeout", format!("the request body did not arrive within {} s", limit.as_secs())))?;
    let body = read.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "BadRequest", "request body too large"),
        _ => ApiError::bad_request(format!("failed to read request body: {rejection}")),
    })?;
    let req = Request { method, route: format!("/{route}"), query: uri.query().map(str::to_string), headers, body: body.to_vec(), client };
    Ok(respond(state.endpoints.handle(req).await?))
}

/// The reply as an HTTP response; headers the function set that HTTP does not allow, or that
/// only the server may set (framing), are left out.
fn respond(reply: Reply) -> Response {
    let mut response = Response::new(Body::from(reply.body));
    *response.status_mut() = StatusCode::from_u16(reply.status).ok().filter(|s| !s.is_informational()).unwrap_or(StatusCode::OK);
    let headers = response.headers_mut();
    for (name, value) in reply.headers {
        let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(&value)) else {
            tracing::warn!("an endpoint function set an invalid header: left out");
            continue;
        };
        if matches!(name.as_str(), "content-length" | "transfer-encoding" | "connection" | "keep-alive" | "upgrade" | "trailer") {
            continue;
        }
        headers.append(name, value);
    }
    response.extensions_mut().insert(Verbatim);
    response.into_response()
}
