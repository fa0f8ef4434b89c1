//! `ApiError`: the one place where failures become HTTP statuses and `{error, error_code, link}` bodies.

use crate::auth::AuthError;
use crate::query::QueryError;
use crate::service::ServiceError;
use crate::store::StoreError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// An error answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// `error_code` (e.g. `InvalidSession`).
    pub code: &'static str,
    /// Human-readable `error`.
    pub message: String,
}

impl ApiError {
    /// Builds an error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into() }
    }
    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }
    /// 401 InvalidSession.
    pub fn invalid_session(why: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "InvalidSession", format!("invalid session: {why}"))
    }
    /// 404 for unknown routes.
    pub fn not_found(what: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "NotFound", what)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(status = %self.status, code = self.code, "{}", self.message);
        } else {
            tracing::debug!(status = %self.status, code = self.code, "{}", self.message);
        }
        let body = serde_json::json!({
            "error": self.message,
            "error_code": self.code,
            "link": "",
        });
        (self.status, Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::InvalidNamespace(m) => ApiError::new(StatusCode::BAD_REQUEST, "InvalidParameter", m),
            StoreError::DuplicateKey { .. } | StoreError::MissingId | StoreError::TooLarge { .. } | StoreError::InvalidDocument(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, "MongoDBError", e.to_string())
            }
            other => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError", other.to_string()),
        }
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::ServerBusy(m) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable", m),
            other => ApiError::new(StatusCode::BAD_REQUEST, "MongoDBError", other.to_string()),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::BadArgument(m) => ApiError::new(StatusCode::BAD_REQUEST, "InvalidParameter", m),
            ServiceError::FunctionNotFound(_) => ApiError::new(StatusCode::NOT_FOUND, "FunctionNotFound", e.to_string()),
            ServiceError::ServiceNotFound(_) => ApiError::new(StatusCode::NOT_FOUND, "ServiceNotFound", e.to_string()),
            ServiceError::NotSupported(_) => ApiError::new(StatusCode::BAD_REQUEST, "FunctionNotFound", e.to_string()),
            ServiceError::Query(q) => q.into(),
            ServiceError::Rule(r @ crate::rules::RuleError::NoMatchingRule(_)) => {
                ApiError::new(StatusCode::FORBIDDEN, "NoMatchingRule", r.to_string())
            }
            ServiceError::Rule(r) => ApiError::new(StatusCode::FORBIDDEN, "NotPermitted", r.to_string()),
            ServiceError::Store(s) => s.into(),
            ServiceError::HistoryLost(r) => ApiError::new(StatusCode::BAD_REQUEST, "ChangeStreamHistoryLost", r.to_string()),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::InvalidSession(why) => ApiError::invalid_session(why),
            AuthError::InvalidPassword => ApiError::new(StatusCode::UNAUTHORIZED, "InvalidPassword", e.to_string()),
            AuthError::AuthFailed(_) | AuthError::ConfirmationRequired | AuthError::Unauthorized => {
                ApiError::new(StatusCode::UNAUTHORIZED, "AuthError", e.to_string())
            }
            AuthError::AccountNameInUse | AuthError::IdentityInUse => {
                ApiError::new(StatusCode::CONFLICT, "AccountNameInUse", e.to_string())
            }
            AuthError::UserAlreadyConfirmed => ApiError::new(StatusCode::CONFLICT, "UserAlreadyConfirmed", e.to_string()),
            AuthError::UserDisabled => ApiError::new(StatusCode::FORBIDDEN, "UserDisabled", e.to_string()),
            AuthError::ApiKeyNotFound(_) => ApiError::new(StatusCode::NOT_FOUND, "APIKeyNotFound", e.to_string()),
            AuthError::InvalidParameter(_) => ApiError::new(StatusCode::BAD_REQUEST, "InvalidParameter", e.to_string()),
            AuthError::FunctionFailed(_) => ApiError::new(StatusCode::BAD_REQUEST, "FunctionExecutionError", e.to_string()),
            AuthError::ApiKeyExists(_) => ApiError::new(StatusCode::CONFLICT, "APIKeyAlreadyExists", e.to_string()),
            AuthError::TooManyRequests(_) => ApiError::new(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests", e.to_string()),
            AuthError::Busy(_) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable", e.to_string()),
            AuthError::BadRequest(m) => ApiError::bad_request(m),
            AuthError::ProviderNotFound(_) => ApiError::new(StatusCode::NOT_FOUND, "AuthProviderNotFound", e.to_string()),
            AuthError::UserNotFound => ApiError::new(StatusCode::NOT_FOUND, "UserNotFound", e.to_string()),
            AuthError::Store(s) => s.into(),
            AuthError::Internal(m) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError", m),
        }
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError", format!("worker task failed: {e}"))
    }
}

impl From<crate::functions::FunctionError> for ApiError {
    fn from(e: crate::functions::FunctionError) -> Self {
        use crate::functions::FunctionError as F;
        let status = match &e {
            F::NotFound(_) | F::Private(_) => StatusCode::NOT_FOUND,
            F::NotPermitted(_) => StatusCode::FORBIDDEN,
            F::Busy => StatusCode::TOO_MANY_REQUESTS,
            F::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, e.error_code(), e.wire_message())
    }
}

impl From<crate::endpoints::EndpointError> for ApiError {
    fn from(e: crate::endpoints::EndpointError) -> Self {
        use crate::endpoints::EndpointError;
        let message = e.to_string();
        match e {
            EndpointError::NotFound(_) => ApiError::new(StatusCode::NOT_FOUND, "NotFound", message),
            EndpointError::MethodNotAllowed(_) => ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", message),
            EndpointError::InvalidParameter(_) => ApiError::new(StatusCode::BAD_REQUEST, "InvalidParameter", message),
            EndpointError::MissingParameter(_) => ApiError::new(StatusCode::BAD_REQUEST, "MissingParameter", message),
            EndpointError::UserNotFound => ApiError::new(StatusCode::UNAUTHORIZED, "InvalidSession", message),
            EndpointError::Unauthorized(_) => ApiError::new(StatusCode::UNAUTHORIZED, "Unauthorized", message),
            EndpointError::NotPermitted(_) => ApiError::new(StatusCode::FORBIDDEN, "NotPermitted", message),
            EndpointError::Auth(a) => a.into(),
            EndpointError::Service(s) => s.into(),
            EndpointError::Function(f) => f.into(),
        }
    }
}
