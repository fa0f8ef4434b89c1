//! HTTP layer: router, state, handlers, CORS, request logging, JSON errors everywhere.

mod admin;
mod auth_routes;
mod endpoints;
mod error;
mod extract;
mod serve;
mod stream;

pub use admin::admin_router;
pub use error::ApiError;
pub use serve::serve;

use crate::auth::Auth;
use crate::config::{AppConfig, ServerSettings};
use crate::functions::{CallEnv, RequestInfo};
use crate::service::{Caller, Engine};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bson::Bson;
use extract::{AuthUser, ClientIp, EjsonBody};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// The served app.
    pub app: Arc<AppConfig>,
    /// Authentication service.
    pub auth: Arc<Auth>,
    /// The bound address, used for `hostname` when a request has no usable Host header.
    pub listen_addr: SocketAddr,
    /// Server settings (CORS origins, body limit, …).
    pub settings: Arc<ServerSettings>,
    /// The MongoDB services: store, rules, budgets.
    pub engine: Arc<Engine>,
    /// The app's functions.
    pub functions: Arc<crate::functions::Functions>,
    /// The app's HTTPS endpoints and Data API.
    pub endpoints: Arc<crate::endpoints::Endpoints>,
    /// The app's triggers.
    pub triggers: Arc<crate::triggers::Triggers>,
}

/// Builds the full router (all routes, CORS, body limit, tracing, JSON error safety net).
pub fn router(state: AppState) -> Router {
    let app_scoped = Router::new()
        .route("/location", get(location))
        .route("/functions/call", post(call_function).get(stream::call_function_streaming))
        .merge(auth_routes::app_routes())
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), require_app));
    let api = Router::new().nest("/app/{app_id}", app_scoped).merge(auth_routes::session_routes());
    let origins: Vec<HeaderValue> = state.settings.cors_origins.iter().filter_map(|o| o.parse().ok()).collect();
    let allow_origin = if origins.is_empty() { AllowOrigin::mirror_request() } else { AllowOrigin::list(origins.clone()) };
    let max_body = state.settings.max_body_bytes;
    let cors = CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .expose_headers([HeaderName::from_static("x-baas-location")])
        .max_age(Duration::from_secs(86400));
    Router::new()
        .nest("/api/client/v2.0", api)
        .merge(endpoints::routes(&state))
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(RequestBodyLimitLayer::new(max_body))
        .layer(axum::middleware::map_response(json_errors))
        .layer(
            // Method, path and status only: headers (tokens), the query string (the streaming route
            // carries `baas_at=<access token>`) and bodies (passwords) are never logged. At INFO, so
            // operators get an access log by default; it costs ~2 µs of a ~25 µs findOne
            // (`RUST_LOG=warn` turns it off where that matters).
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(axum::middleware::map_response(move |r| ensure_cors_origin(r, origins.is_empty())))
        .layer(cors)
}

/// The log span of a request: its method and path, never its query string.
pub(crate) fn request_span<B>(req: &axum::http::Request<B>) -> tracing::Span {
    tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
}

/// Any error response that is not JSON (413 from the body limit, etc.) becomes an `ApiError` body.
pub(crate) async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json || response.extensions().get::<endpoints::Verbatim>().is_some() {
        return response;
    }
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "BadRequest",
        StatusCode::METHOD_NOT_ALLOWED => "MethodNotAllowed",
        StatusCode::NOT_FOUND => "NotFound",
        s if s.is_server_error() => "InternalServerError",
        _ => "BadRequest",
    };
    let reason = status.canonical_reason().unwrap_or("error").to_lowercase();
    ApiError::new(status, code, reason).into_response()
}

/// `Access-Control-Allow-Origin: *` when the request carried no Origin (tower-http only
/// mirrors an Origin that is present), so every response is CORS-readable; not when the
/// operator restricted the allowed origins.
async fn ensure_cors_origin(mut response: Response, any_origin: bool) -> Response {
    if !any_origin {
        return response;
    }
    response
        .headers_mut()
        .entry(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        .or_insert(HeaderValue::from_static("*"));
    response
}

pub(crate) async fn unknown_route(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no route for {method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        format!("method {method} not allowed on {}", uri.path()),
    )
}

/// Every `/app/{app_id}/…` route: the app id must be the served app's.
async fn require_app(
    State(state): State<AppState>,
    Path(params): Path<std::collections::HashMap<String, String>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let app_id = params.get("app_id").map(String::as_str).unwrap_or_default();
    if app_id != state.app.app_id {
        return ApiError::new(StatusCode::NOT_FOUND, "AppNotFound", format!("cannot find app using Client App ID '{app_id}'")).into_response();
    }
    next.run(request).await
}

/// Runs blocking work (redb, argon2) off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, ApiError> + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await?
}

async fn location(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    // From configuration only: a Host header is the caller's word, and echoing it would let a
    // request (or a cache in front of the server) point clients at another host.
    let hostname = match &state.settings.public_url {
        Some(url) => url.clone(),
        None => format!("http://{}", state.listen_addr),
    };
    let ws_hostname = hostname.replacen("http", "ws", 1);
    Ok(Json(serde_json::json!({
        "deployment_model": &state.app.deployment_model,
        "location": &state.app.location,
        "hostname": hostname,
        "ws_hostname": ws_hostname,
    })))
}

/// `context.request` of a call made over HTTP.
fn request_info(client: Option<std::net::IpAddr>, method: &Method, headers: &HeaderMap, action: Option<&str>) -> RequestInfo {
    // Credentials stay out of functions' reach, as they stay out of logs.
    let visible = headers.iter().filter(|(name, _)| **name != header::AUTHORIZATION && **name != header::COOKIE);
    let request_headers = RequestInfo::group_headers(visible.map(|(name, value)| (name.as_str(), value.as_bytes())));
    let text = |h: header::HeaderName| headers.get(h).and_then(|v| v.to_str().ok()).map(str::to_string);
    RequestInfo {
        remote_ip_address: client.map(|ip| ip.to_string()).unwrap_or_default(),
        request_headers,
        http_method: method.to_string(),
        http_referrer: text(header::REFERER),
        http_user_agent: text(header::USER_AGENT),
        action: action.map(str::to_string),
        ..RequestInfo::default()
    }
}

fn string_field(body: &bson::Document, key: &str) -> Result<String, ApiError> {
    match body.get(key) {
        Some(Bson::String(s)) => Ok(s.clone()),
        Some(_) => Err(ApiError::bad_request(format!("'{key}' must be a string"))),
        None => Err(ApiError::bad_request(format!("'{key}' is required"))),
    }
}

/// The answer to `callFunctionStreaming` of one of the app's own functions: App Services streams
/// only service functions (`watch`); an app function returns one value, through `callFunction`.
fn user_function_streaming(state: &AppState, name: &str) -> ApiError {
    match state.functions.def(name) {
        Some(def) if !def.private => ApiError::new(
            StatusCode::BAD_REQUEST,
            "FunctionExecutionError",
            format!("function '{name}' cannot be called with callFunctionStreaming: only service functions such as watch stream; call it with callFunction"),
        ),
        _ => ApiError::new(StatusCode::NOT_FOUND, "FunctionNotFound", crate::functions::FunctionError::NotFound(name.to_string()).to_string()),
    }
}

async fn call_function(
    State(state): State<AppState>,
    AuthUser(claims): AuthUser,
    ClientIp(client): ClientIp,
    method: Method,
    headers: HeaderMap,
    EjsonBody(body): EjsonBody,
) -> Result<Json<serde_json::Value>, ApiError> {
    let name = string_field(&body, "name")?;
    let arguments = match body.get("arguments") {
        Some(Bson::Array(a)) => a.clone(),
        None => Vec::new(),
        Some(_) => return Err(ApiError::bad_request("'arguments' must be an array")),
    };
    let service_name = match body.get("service") {
        Some(Bson::String(s)) => Some(s.clone()),
        None | Some(Bson::Null) => None,
        Some(_) => return Err(ApiError::bad_request("'service' must be a string")),
    };
    let Some(service) = service_name else {
        // One of the app's own functions, as the calling user.
        // One redb read: cheaper inline than a blocking-pool hop (as for the token check).
        let profile = state.auth.profile(&claims.sub)?;
        let user = crate::host::user_info(&profile, claims.user_data.as_ref());
        let request = request_info(client, &method, &headers, Some(&name));
        let result = state.functions.call(&name, arguments, CallEnv::client(user, Some(request))).await?;
        return Ok(Json(result.into_canonical_extjson()));
    };
    let (with_profile, with_custom_data) = state.engine.rules(&service)?.needs();
    let caller = Caller::User(state.auth.rule_context(&claims, with_profile, with_custom_data)?);
    // Calls run against memory (no blocking-pool hop); the answer waits, asynchronously, for the
    // group commit that makes what the call wrote or read durable.
    Ok(Json(state.engine.call(&caller, &service, &name, &arguments).await?.into_json()))
}
