//! Custom HTTPS endpoints: the route's function is called with `(request, response)`.
//!
//! Who it runs as is the endpoint's run-as setting when it has one, else its function's (the
//! authentication App Services configures on the function): application authentication (the
//! caller's credentials), a fixed user, a script, or the system. With `respond_result`, what the
//! function set on `response` is the answer — status (default 200), headers, body — and without a
//! body the function's return value is, in JSON or EJSON; without `respond_result` the answer is
//! `204 No Content`.

use super::format::{encode, negotiate};
use super::request::Seen;
use super::{authn, EndpointError, Endpoints, Reply, Request};
use crate::config::{EndpointDef, RunAsSetting, Validation, ENDPOINT_METHODS};
use crate::functions::{CallEnv, RunAs};
use axum::http::Method;
use bson::Bson;

/// The enabled endpoint for `method` on `route` (an exact method beats `*`).
pub(super) fn find<'a>(endpoints: &'a [EndpointDef], method: &Method, route: &str) -> Result<&'a EndpointDef, EndpointError> {
    let on_route: Vec<&EndpointDef> = endpoints.iter().filter(|e| e.route == route && !e.disabled).collect();
    let exact = on_route.iter().find(|e| e.method.as_deref() == Some(method.as_str()));
    let any = on_route.iter().find(|e| e.method.is_none() && ENDPOINT_METHODS.contains(&method.as_str()));
    if let Some(e) = exact.or(any) {
        return Ok(e);
    }
    if on_route.is_empty() {
        let hint = if route.starts_with("/data/") { " (the Data API is served only when https_endpoints/data_api_config.json enables it)" } else { "" };
        return Err(EndpointError::NotFound(format!("no endpoint at {route}{hint}")));
    }
    let methods: Vec<&str> = on_route.iter().map(|e| e.method.as_deref().unwrap_or("*")).collect();
    Err(EndpointError::MethodNotAllowed(format!("{route} answers {}, not {method}", methods.join(", "))))
}

/// Runs `endpoint`'s function for `req`.
pub(super) async fn handle(this: &Endpoints, endpoint: &EndpointDef, req: Request) -> Result<Reply, EndpointError> {
    authn::validate(&endpoint.validation, req.query.as_deref(), &req.headers, &req.body)?;
    let function = &endpoint.function_name;
    let (owner, setting) = match &endpoint.run_as {
        Some(s) => (endpoint.script_name(), s.clone()),
        None => {
            let def = this.functions.def(function).ok_or_else(|| EndpointError::NotFound(format!("no function {function:?}")))?;
            (function.clone(), def.run_as.clone())
        }
    };
    let application = setting == RunAsSetting::Caller;
    let caller = if application {
        let found = this.authenticate(&req.headers, req.client, endpoint.create_user_on_auth).await?;
        Some(this.user_info(&found.id, endpoint.fetch_custom_user_data).await?)
    } else {
        None
    };
    let by_secret = matches!(endpoint.validation, Validation::SecretAsQueryParam(_));
    let seen = Seen::new(&req, &endpoint.route, function, by_secret, application);
    let rule_user = caller.as_ref().map(crate::host::rule_context);
    this.can_evaluate(endpoint.can_evaluate.as_ref(), rule_user.as_ref(), &seen.info)?;
    let argument = seen.argument(&req.body);
    let env = CallEnv {
        run_as: caller.clone().map_or(RunAs::System, RunAs::User),
        caller,
        request: Some(seen.info),
        request_id: None,
        from_client: false,
    };
    let run_as = this.functions.run_as(&owner, &setting, &[Bson::Document(argument.clone())], &env).await?;
    // Without an authenticated caller, the user it runs as (a fixed one, or the script's) is `context.user`.
    let caller = match (&env.caller, &run_as) {
        (None, RunAs::User(u)) => Some(u.clone()),
        (caller, _) => caller.clone(),
    };
    let reply = this.functions.call_endpoint(function, argument, CallEnv { run_as, caller, ..env }).await?;
    if !endpoint.respond_result {
        return Ok(Reply { status: 204, headers: Vec::new(), body: Vec::new() });
    }
    let mut headers = reply.headers;
    let body = match (reply.body, reply.result) {
        (Some(body), _) => body,
        (None, Some(result)) => {
            let (body, content_type) = encode(result, negotiate(&req.headers, endpoint.return_type));
            if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("content-type")) {
                headers.push(("Content-Type".into(), content_type.into()));
            }
            body
        }
        (None, None) => Vec::new(),
    };
    Ok(Reply { status: reply.status.unwrap_or(200), headers, body })
}
