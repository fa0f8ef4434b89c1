//! Auth and user routes: login/link, email/password flows, profile, sessions, user deletion,
//! API keys. The `/app/{app_id}` routes run after the app id was checked; the `/auth/*` routes
//! find the user by token.

use super::error::ApiError;
use super::extract::{bearer_token, AuthUser, BearerToken, ClientIp, EjsonBody};
use super::{blocking, string_field, AppState};
use crate::auth::{ApiKey, LoginResponse};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};

/// The routes of one app, relative to `/api/client/v2.0/app/{app_id}` (the app id is checked
/// before they run).
pub(super) fn app_routes() -> Router<AppState> {
    let userpass = "/auth/providers/local-userpass";
    Router::new()
        .route("/auth/providers/{provider}/login", post(login))
        .route(&format!("{userpass}/register"), post(register))
        .route(&format!("{userpass}/confirm"), post(confirm))
        .route(&format!("{userpass}/confirm/send"), post(confirm_send))
        .route(&format!("{userpass}/confirm/call"), post(confirm_call))
        .route(&format!("{userpass}/reset"), post(reset))
        .route(&format!("{userpass}/reset/send"), post(reset_send))
        .route(&format!("{userpass}/reset/call"), post(reset_call))
}

/// The routes that find the user by token, relative to `/api/client/v2.0`.
pub(super) fn session_routes() -> Router<AppState> {
    Router::new()
        .route("/auth/profile", get(profile))
        .route("/auth/session", post(refresh_session).delete(logout))
        .route("/auth/delete", delete(delete_user))
        .route("/auth/api_keys", get(list_api_keys).post(create_api_key))
        .route("/auth/api_keys/{key_id}", get(fetch_api_key).delete(delete_api_key))
        .route("/auth/api_keys/{key_id}/enable", put(enable_api_key))
        .route("/auth/api_keys/{key_id}/disable", put(disable_api_key))
}

/// 204 without a body: realm-web reads a void answer as `null`.
fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

#[derive(serde::Deserialize)]
struct LoginQuery {
    link: Option<String>,
}

async fn login(
    State(state): State<AppState>,
    Path((_app_id, provider)): Path<(String, String)>,
    Query(query): Query<LoginQuery>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    EjsonBody(body): EjsonBody,
) -> Result<Json<LoginResponse>, ApiError> {
    let auth = state.auth.clone();
    // Only linking uses the caller's token; a plain login ignores any Authorization header.
    let link_token = match query.link.as_deref() {
        Some("true") => Some(bearer_token(&headers)?),
        _ => None,
    };
    let response = blocking(move || match link_token {
        Some(token) => {
            let claims = auth.verify_access_token(&token)?;
            Ok(auth.link(&claims, &provider, &body, client)?)
        }
        None => Ok(auth.login(&provider, &body, client)?),
    })
    .await?;
    tracing::info!(user_id = %response.user_id, linked = response.refresh_token.is_none(), "login");
    Ok(Json(response))
}

async fn register(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    EjsonBody(body): EjsonBody,
) -> Result<Response, ApiError> {
    let email = string_field(&body, "email")?;
    let password = string_field(&body, "password")?;
    let auth = state.auth.clone();
    blocking(move || Ok(auth.register(&email, &password, client)?)).await?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({}))).into_response())
}

async fn confirm(State(state): State<AppState>, EjsonBody(body): EjsonBody) -> Result<Response, ApiError> {
    let (token, token_id) = (string_field(&body, "token")?, string_field(&body, "tokenId")?);
    let auth = state.auth.clone();
    blocking(move || Ok(auth.confirm(&token, &token_id)?)).await?;
    Ok(no_content())
}

async fn confirm_send(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    EjsonBody(body): EjsonBody,
) -> Result<Response, ApiError> {
    let email = string_field(&body, "email")?;
    let auth = state.auth.clone();
    blocking(move || Ok(auth.resend_confirmation(&email, client)?)).await?;
    Ok(no_content())
}

async fn confirm_call(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    EjsonBody(body): EjsonBody,
) -> Result<Response, ApiError> {
    let email = string_field(&body, "email")?;
    let auth = state.auth.clone();
    blocking(move || Ok(auth.retry_confirmation_function(&email, client)?)).await?;
    Ok(no_content())
}

async fn reset(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    EjsonBody(body): EjsonBody,
) -> Result<Response, ApiError> {
    let token = string_field(&body, "token")?;
    let token_id = string_field(&body, "tokenId")?;
    let password = string_field(&body, "password")?;
    let auth = state.auth.clone();
    blocking(move || Ok(auth.reset_password(&token, &token_id, &password, client)?)).await?;
    Ok(no_content())
}

async fn reset_send(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    EjsonBody(body): EjsonBody,
) -> Result<Response, ApiError> {
    let email = string_field(&body, "email")?;
    let auth = state.auth.clone();
    blocking(move || Ok(auth.send_reset(&email, client)?)).await?;
    Ok(no_content())
}

async fn reset_call(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    EjsonBody(body): EjsonBody,
) -> Result<Response, ApiError> {
    let email = string_field(&body, "email")?;
    let password = string_field(&body, "password")?;
    let arguments = match body.get("arguments") {
        None => Vec::new(),
        Some(bson::Bson::Array(a)) => a.clone(),
        Some(_) => return Err(ApiError::bad_request("'arguments' must be an array")),
    };
    let auth = state.auth.clone();
    blocking(move || Ok(auth.call_reset_function(&email, &password, arguments, client)?)).await?;
    Ok(no_content())
}

async fn profile(State(state): State<AppState>, AuthUser(claims): AuthUser) -> Result<Json<serde_json::Value>, ApiError> {
    let auth = state.auth.clone();
    let body = blocking(move || Ok(auth.profile(&claims.sub)?)).await?;
    Ok(Json(body))
}

async fn refresh_session(State(state): State<AppState>, BearerToken(rt): BearerToken) -> Result<Response, ApiError> {
    let auth = state.auth.clone();
    let access_token = blocking(move || Ok(auth.refresh(&rt)?)).await?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "access_token": access_token }))).into_response())
}

async fn logout(State(state): State<AppState>, BearerToken(rt): BearerToken) -> Result<Response, ApiError> {
    let auth = state.auth.clone();
    blocking(move || Ok(auth.logout(&rt)?)).await?;
    Ok(no_content())
}

async fn delete_user(State(state): State<AppState>, AuthUser(claims): AuthUser) -> Result<Response, ApiError> {
    let auth = state.auth.clone();
    let user_id = claims.sub;
    blocking(move || Ok(auth.delete_user(&user_id)?)).await?;
    Ok(no_content())
}

/// Runs `f` with the user id behind the refresh token (API-key routes use the RT).
async fn with_session_user<T: Send + 'static>(
    state: &AppState,
    rt: String,
    f: impl FnOnce(&crate::auth::Auth, &str) -> Result<T, crate::auth::AuthError> + Send + 'static,
) -> Result<T, ApiError> {
    let auth = state.auth.clone();
    blocking(move || {
        let user_id = auth.session_user(&rt)?;
        Ok(f(&auth, &user_id)?)
    })
    .await
}

async fn create_api_key(State(state): State<AppState>, BearerToken(rt): BearerToken, EjsonBody(body): EjsonBody) -> Result<Response, ApiError> {
    let name = string_field(&body, "name")?;
    let key = with_session_user(&state, rt, move |a, u| a.create_api_key(u, &name)).await?;
    Ok((StatusCode::CREATED, Json(key)).into_response())
}

async fn list_api_keys(State(state): State<AppState>, BearerToken(rt): BearerToken) -> Result<Json<Vec<ApiKey>>, ApiError> {
    Ok(Json(with_session_user(&state, rt, |a, u| a.api_keys(u)).await?))
}

async fn fetch_api_key(State(state): State<AppState>, BearerToken(rt): BearerToken, Path(key_id): Path<String>) -> Result<Json<ApiKey>, ApiError> {
    Ok(Json(with_session_user(&state, rt, move |a, u| a.api_key(u, &key_id)).await?))
}

async fn delete_api_key(State(state): State<AppState>, BearerToken(rt): BearerToken, Path(key_id): Path<String>) -> Result<Response, ApiError> {
    with_session_user(&state, rt, move |a, u| a.delete_api_key(u, &key_id)).await?;
    Ok(no_content())
}

async fn enable_api_key(State(state): State<AppState>, BearerToken(rt): BearerToken, Path(key_id): Path<String>) -> Result<Response, ApiError> {
    with_session_user(&state, rt, move |a, u| a.set_api_key_disabled(u, &key_id, false)).await?;
    Ok(no_content())
}

async fn disable_api_key(State(state): State<AppState>, BearerToken(rt): BearerToken, Path(key_id): Path<String>) -> Result<Response, ApiError> {
    with_session_user(&state, rt, move |a, u| a.set_api_key_disabled(u, &key_id, true)).await?;
    Ok(no_content())
}
