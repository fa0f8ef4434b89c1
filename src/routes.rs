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
    fn segments_are_not_encoded() {
        assert_eq!(location("a b/c"), "/api/client/v2.0/app/a b/c/location");
    }
}
