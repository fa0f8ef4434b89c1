//! The operator API, served on its own listen address and only with an admin token:
//! list / disable / enable / delete users, revoke a user's sessions, list pending confirmations,
//! list triggers and disable / enable one.
//!
//! GET /users · PUT /users/{id}/disable · PUT /users/{id}/enable · DELETE /users/{id} ·
//! DELETE /users/{id}/sessions · GET /pending-confirmations · GET /triggers ·
//! PUT /triggers/{name}/disable · PUT /triggers/{name}/enable — all with
//! `Authorization: Bearer <admin token>`. With `--test-clock` also PUT /test/clock `{"now": …}`.

use super::error::ApiError;
use super::extract::bearer_token;
use super::{blocking, json_errors, unknown_route, AppState};
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, put};
use crate::triggers::{TriggerError, TriggerView};
use axum::{Json, Router};
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// The admin router; every request must carry `token`.
pub fn admin_router(state: AppState, token: String) -> Router {
    let token = Arc::new(token);
    Router::new()
        .route("/users", get(list_users))
        .route("/users/{user_id}", delete(delete_user))
        .route("/users/{user_id}/disable", put(disable_user))
        .route("/users/{user_id}/enable", put(enable_user))
        .route("/users/{user_id}/sessions", delete(revoke_sessions))
        .route("/pending-confirmations", get(pending_confirmations))
        .route("/triggers", get(list_triggers))
        .route("/triggers/{name}/disable", put(disable_trigger))
        .route("/triggers/{name}/enable", put(enable_trigger))
        .route("/test/clock", put(set_test_clock))
        .fallback(unknown_route)
        .with_state(state)
        .layer(axum::middleware::from_fn(move |req: Request, next: Next| {
            let token = token.clone();
            async move {
                let given = bearer_token(req.headers()).unwrap_or_default();
                let ok: bool = given.as_bytes().ct_eq(token.as_bytes()).into();
                if !ok {
                    return ApiError::new(StatusCode::UNAUTHORIZED, "Unauthorized", "admin token required").into_response();
                }
                next.run(req).await
            }
        }))
        .layer(axum::middleware::map_response(json_errors))
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(super::request_span))
}

async fn list_users(State(state): State<AppState>) -> Result<Json<Vec<serde_json::Value>>, ApiError> {
    let auth = state.auth.clone();
    Ok(Json(blocking(move || Ok(auth.list_users()?)).await?))
}

async fn set_disabled(state: AppState, user_id: String, disabled: bool) -> Result<Response, ApiError> {
    let auth = state.auth.clone();
    blocking(move || Ok(auth.set_user_disabled(&user_id, disabled)?)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn disable_user(State(state): State<AppState>, Path(user_id): Path<String>) -> Result<Response, ApiError> {
    set_disabled(state, user_id, true).await
}

async fn enable_user(State(state): State<AppState>, Path(user_id): Path<String>) -> Result<Response, ApiError> {
    set_disabled(state, user_id, false).await
}

async fn delete_user(State(state): State<AppState>, Path(user_id): Path<String>) -> Result<Response, ApiError> {
    let auth = state.auth.clone();
    blocking(move || Ok(auth.delete_user(&user_id)?)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn revoke_sessions(State(state): State<AppState>, Path(user_id): Path<String>) -> Result<Json<serde_json::Value>, ApiError> {
    let auth = state.auth.clone();
    let revoked = blocking(move || Ok(auth.revoke_sessions(&user_id)?)).await?;
    Ok(Json(serde_json::json!({ "revoked": revoked })))
}

async fn pending_confirmations(State(state): State<AppState>) -> Result<Json<Vec<crate::auth::PendingConfirmation>>, ApiError> {
    let auth = state.auth.clone();
    Ok(Json(blocking(move || Ok(auth.pending_confirmations()?)).await?))
}

impl From<TriggerError> for ApiError {
    fn from(e: TriggerError) -> Self {
        let status = match e {
            TriggerError::NotFound(_) | TriggerError::NoTestClock => StatusCode::NOT_FOUND,
            TriggerError::Timeout(_) => StatusCode::SERVICE_UNAVAILABLE,
            TriggerError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let code = if status == StatusCode::NOT_FOUND { "NotFound" } else { "InternalServerError" };
        ApiError::new(status, code, e.to_string())
    }
}

async fn list_triggers(State(state): State<AppState>) -> Json<Vec<TriggerView>> {
    Json(state.triggers.list())
}

async fn disable_trigger(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<TriggerView>, ApiError> {
    Ok(Json(state.triggers.set_enabled(&name, false).await?))
}

async fn enable_trigger(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<TriggerView>, ApiError> {
    Ok(Json(state.triggers.set_enabled(&name, true).await?))
}

/// `--test-clock` only: `{"now": <seconds since the epoch> | "<RFC 3339>"}`; answers once the
/// scheduled triggers have done the runs due by then.
async fn set_test_clock(State(state): State<AppState>, body: axum::body::Bytes) -> Result<Response, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("expected {{\"now\": …}}: {e}")))?;
    let now = match &value["now"] {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => crate::config::parse_time(s),
        _ => None,
    }
    .ok_or_else(|| ApiError::bad_request("\"now\" must be seconds since the epoch or an RFC 3339 time"))?;
    state.triggers.set_test_clock(now).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
