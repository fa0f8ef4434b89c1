//! Every path of the App Services client protocol (protocol §0.5) as pure functions.
//!
//! Paths are appended verbatim to the location URL (§0.1): no slash normalisation and no
//! URL-encoding of path segments, exactly like realm-web.

const API: &str = "/api/client/v2.0";

/// `/api/client/v2.0/app/{appId}`
pub fn app(app_id: &str) -> String {
    format!("{API}/app/{app_id}")
}

/// Location lookup, sent to the configured base URL (§1).
pub fn location(app_id: &str) -> String {
    format!("{}/location", app(app_id))
}

/// Provider login (§2.1).
pub fn login(app_id: &str, provider_name: &str) -> String {
    format!("{}/auth/providers/{provider_name}/login", app(app_id))
}

/// An email/password provider route such as `register` or `confirm/send` (§8.1).
pub fn email_password(app_id: &str, route: &str) -> String {
    format!("{}/auth/providers/local-userpass/{route}", app(app_id))
}

/// A push service's registration of this device (`PUT` registers a token, `DELETE` removes it).
pub fn push_registration(app_id: &str, service_name: &str) -> String {
    format!("{}/push/providers/{service_name}/registration", app(app_id))
}

/// Email/password registration (§8.1).
pub fn register(app_id: &str) -> String {
    email_password(app_id, "register")
}

/// The caller's profile (§3).
pub fn profile() -> String {
    format!("{API}/auth/profile")
}

/// Session: `POST` refreshes the access token, `DELETE` logs out (§4).
pub fn session() -> String {
    format!("{API}/auth/session")
}

/// Deletes the calling user (§9.4).
pub fn delete_user() -> String {
    format!("{API}/auth/delete")
}

/// Function calls, including MongoDB service calls (§6, §7).
pub fn functions_call(app_id: &str) -> String {
    format!("{}/functions/call", app(app_id))
}

/// Linking another identity to the calling user (§2.4).
pub fn link(app_id: &str, provider_name: &str) -> String {
    format!("{}?link=true", login(app_id, provider_name))
}

/// The calling user's API keys (§8.2).
pub fn api_keys() -> String {
    format!("{API}/auth/api_keys")
}

/// One API key (§8.2); the id is not URL-encoded (§0.1).
pub fn api_key(key_id: &str) -> String {
    format!("{}/{key_id}", api_keys())
}

/// Enables (`true`) or disables an API key (§8.2).
pub fn api_key_toggle(key_id: &str, enable: bool) -> String {
    format!("{}/{}", api_key(key_id), if enable { "enable" } else { "disable" })
}

/// The streaming function call (§6.3): `baas_request` is `encodeURIComponent(base64(json))`.
pub fn functions_call_streaming(app_id: &str, request_json: &str) -> String {
    let b64 = crate::b64::encode(request_json.as_bytes());
    let encoded = b64.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D");
    format!("{}?baas_request={encoded}", functions_call(app_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_scoped_paths() {
        assert_eq!(location("my-app"), "/api/client/v2.0/app/my-app/location");
        assert_eq!(
            login("my-app", "local-userpass"),
            "/api/client/v2.0/app/my-app/auth/providers/local-userpass/login"
        );
        assert_eq!(
            login("my-app", "anon-user"),
            "/api/client/v2.0/app/my-app/auth/providers/anon-user/login"
        );
        assert_eq!(
            register("my-app"),
            "/api/client/v2.0/app/my-app/auth/providers/local-userpass/register"
        );
        assert_eq!(
            email_password("my-app", "confirm/send"),
            "/api/client/v2.0/app/my-app/auth/providers/local-userpass/confirm/send"
        );
        assert_eq!(functions_call("my-app"), "/api/client/v2.0/app/my-app/functions/call");
    }

    #[test]
    fn user_scoped_paths() {
        assert_eq!(profile(), "/api/client/v2.0/auth/profile");
        assert_eq!(session(), "/api/client/v2.0/auth/session");
        assert_eq!(delete_user(), "/api/client/v2.0/auth/delete");
    }

    #[test]
    fn link_api_keys_and_streaming() {
        assert_eq!(link("a", "api-key"), "/api/client/v2.0/app/a/auth/providers/api-key/login?link=true");
        assert_eq!(api_keys(), "/api/client/v2.0/auth/api_keys");
        assert_eq!(api_key("k1"), "/api/client/v2.0/auth/api_keys/k1");
        assert_eq!(api_key_toggle("k1", true), "/api/client/v2.0/auth/api_keys/k1/enable");
        assert_eq!(api_key_toggle("k1", false), "/api/client/v2.0/auth/api_keys/k1/disable");
        // The base64 of this body contains '+' and '=' padding.
        let url = functions_call_streaming("a", r#"{"a":">>>??"}"#);
        assert_eq!(url, "/api/client/v2.0/app/a/functions/call?baas_request=eyJhIjoiPj4%2BPz8ifQ%3D%3D");
    }

    #[test]
    fn segments_are_not_encoded() {
        assert_eq!(location("a b/c"), "/api/client/v2.0/app/a b/c/location");
    }
}
