//! The OpenAPI 3.1 document, collected from the routes, and the offline Swagger UI at `/docs`.

use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{
    Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes, SecurityScheme,
};
use utoipa::openapi::{Content, Ref, RefOr, Response, ResponseBuilder};
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
        (name = "passkeys", description = "WebAuthn registration and passwordless login"),
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

/// Adds to every operation of the whole document (once the routes are merged into it) the
/// problem answers any operation can give whatever it does, documented once here rather than on
/// every route: a failed credential where one is required, a malformed request where there is
/// input, a body too large, and a backend down or a server too busy. Answers an operation
/// documents itself are left as they are.
pub(crate) fn add_common_problems(openapi: &mut utoipa::openapi::OpenApi) {
    for item in openapi.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            add_to(operation);
        }
    }
}

fn add_to(operation: &mut Operation) {
    let secured = operation
        .security
        .as_ref()
        .is_some_and(|requirements| !requirements.is_empty());
    let has_body = operation.request_body.is_some();
    let has_input = has_body
        || operation
            .parameters
            .as_ref()
            .is_some_and(|parameters| !parameters.is_empty());
    let mut common = Vec::new();
    if secured {
        common.push((
            "401",
            "token_missing, token_invalid, token_expired or token_revoked",
        ));
    }
    if has_input {
        common.push(("422", "validation_error: the request is malformed"));
    }
    if has_body {
        common.push(("413", "payload_too_large: the body is over 64 KiB"));
    }
    common.push((
        "503",
        "unavailable: a backend is down or the server is busy",
    ));
    let responses = &mut operation.responses.responses;
    for (status, description) in common {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| problem(description));
    }
}

fn problem(description: &str) -> RefOr<Response> {
    let schema = Ref::from_schema_name("Problem");
    ResponseBuilder::new()
        .description(description)
        .content("application/problem+json", Content::new(Some(schema)))
        .build()
        .into()
}
