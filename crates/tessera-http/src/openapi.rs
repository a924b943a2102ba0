//! The OpenAPI 3.1 document, collected from the routes, and the offline Swagger UI at `/docs`.

use utoipa::openapi::security::{
    Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes, SecurityScheme,
};
use utoipa::{Modify, OpenApi};

/// Document-level information; paths come from the routers.
#[derive(OpenApi)]
#[openapi(
    info(title = "Tessera", description = "Authentication server: accounts, tokens, sessions."),
    modifiers(&SecuritySchemes),
    components(schemas(crate::browser::CookieGrantView)),
    tags(
        (name = "auth", description = "Signup and login"),
        (name = "sessions", description = "Refresh, logout, per-device sessions"),
        (name = "oauth", description = "RFC 6749 token and RFC 7009 revocation endpoints"),
        (name = "resource servers", description = "Introspection and the revocation feed (service key)"),
        (name = "users", description = "The caller's account"),
        (name = "admin", description = "Users and their sessions, for the admin role"),
        (name = "websocket", description = "Single-use tickets for WebSocket upgrades"),
        (name = "discovery", description = "JWKS and metadata"),
        (name = "operations", description = "Health and metrics"),
    )
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "service_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A configured service key"))
                    .build(),
            ),
        );
        // Swagger UI's Authorize button posts the OAuth2 password form to /auth/login.
        components.add_security_scheme(
            "password",
            SecurityScheme::OAuth2(OAuth2::new([Flow::Password(Password::new(
                "/auth/login",
                Scopes::new(),
            ))])),
        );
    }
}
