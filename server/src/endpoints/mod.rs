//! The app's HTTPS endpoints and the Data API, served under `/app/<app id>/endpoint/…`.
//!
//! - **Custom endpoints** (`https_endpoints/config.json`): the route's function runs with the
//!   documented `(request, response)` arguments (`custom`).
//! - **The Data API** (`data_api_config.json`): `POST /data/<version>/action/<action>` runs one
//!   MongoDB operation through `service::Engine::call`, under the app's rules for the authenticated
//!   user (`data_api`).
//!
//! Both check the request's validation (`?secret=`, `Endpoint-Signature`), find who the call runs
//! as (application authentication from the request's headers, a fixed user, a script or the
//! system: `authn`), evaluate `can_evaluate`, and answer JSON or EJSON as the `Accept` header or the
//! configured `return_type` says (`format`). The HTTP layer only hands a `Request` in and sends the
//! `Reply` out.

mod authn;
mod custom;
mod data_api;
mod format;
mod request;

use crate::auth::{Auth, AuthError};
use crate::config::{ConfigError, DataApiConfig, EndpointDef, EndpointsConfig};
use crate::functions::{FunctionError, Functions};
use crate::service::{Engine, ServiceError};
use axum::http::{HeaderMap, Method};
use bson::Document;
use std::net::IpAddr;
use std::sync::Arc;

/// A request to `/app/<app id>/endpoint<route>`.
#[derive(Debug)]
pub struct Request {
    /// Its method.
    pub method: Method,
    /// The path after `/endpoint` (starting with `/`).
    pub route: String,
    /// The raw query string (without `?`).
    pub query: Option<String>,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body (empty: none).
    pub body: Vec<u8>,
    /// The caller's address.
    pub client: Option<IpAddr>,
}

/// The answer to send as it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Headers, in order (a name may repeat).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

/// Why an endpoint request failed (the HTTP layer turns it into the `{error, error_code, link}` answer).
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// No endpoint (or Data API action or version) here, or it is disabled.
    #[error("{0}")]
    NotFound(String),
    /// The route exists for other methods.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// A bad request parameter (App Services' `InvalidParameter`).
    #[error("{0}")]
    InvalidParameter(String),
    /// A required parameter is missing (App Services' `MissingParameter`).
    #[error("{0}")]
    MissingParameter(String),
    /// The credentials name no user (App Services: `invalid session: error finding user for endpoint`).
    #[error("invalid session: error finding user for endpoint")]
    UserNotFound,
    /// `?secret=` or `Endpoint-Signature` did not match.
    #[error("{0}")]
    Unauthorized(String),
    /// `can_evaluate` said no.
    #[error("{0}")]
    NotPermitted(String),
    /// Authentication failed otherwise (an invalid access token, a disabled user, too many attempts).
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The MongoDB operation failed.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// The function failed.
    #[error(transparent)]
    Function(#[from] FunctionError),
}

/// The served endpoints and what they call.
pub struct Endpoints {
    custom: Vec<EndpointDef>,
    data_api: Option<DataApiConfig>,
    functions: Arc<Functions>,
    engine: Arc<Engine>,
    auth: Arc<Auth>,
    /// `%%values` for `can_evaluate`.
    values: Document,
}

impl Endpoints {
    /// Serves `config`; every endpoint's function must exist.
    pub fn new(config: EndpointsConfig, functions: Arc<Functions>, engine: Arc<Engine>, auth: Arc<Auth>, values: Document) -> Result<Endpoints, ConfigError> {
        for e in &config.custom {
            if !functions.contains(&e.function_name) {
                let reason = format!("no function {:?} in functions/", e.function_name);
                return Err(ConfigError { file: e.file.clone(), key: format!("{}.function_name", e.key), reason });
            }
        }
        Ok(Endpoints { custom: config.custom, data_api: config.data_api, functions, engine, auth, values })
    }

    /// Answers one request: the Data API's routes first, then the custom endpoints.
    pub async fn handle(&self, req: Request) -> Result<Reply, EndpointError> {
        let route = req.route.clone();
        if let Some((config, action)) = self.data_api_route(&route)? {
            return data_api::handle(self, config, action, req).await;
        }
        let endpoint = custom::find(&self.custom, &req.method, &req.route)?;
        custom::handle(self, endpoint, req).await
    }

    /// `/data/<version>/action/<action>` of an enabled Data API and version.
    fn data_api_route<'a>(&'a self, route: &'a str) -> Result<Option<(&'a DataApiConfig, &'a str)>, EndpointError> {
        let Some(rest) = route.strip_prefix("/data/") else { return Ok(None) };
        let Some((version, action)) = rest.split_once("/action/") else { return Ok(None) };
        let Some(config) = self.data_api.as_ref() else { return Ok(None) };
        if config.disabled {
            return Err(EndpointError::NotFound("the Data API is disabled for this app (data_api_config.json)".into()));
        }
        if !config.versions.iter().any(|v| v == version) {
            let known = config.versions.join(", ");
            return Err(EndpointError::NotFound(format!("Data API version {version:?} is not enabled for this app (enabled: {known})")));
        }
        Ok(Some((config, action)))
    }
}
