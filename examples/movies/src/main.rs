//! `movies`: serve the movie service. Configuration from the environment:
//! `TESSERA_URL` (Tessera's issuer, default http://127.0.0.1:8080), `MOVIES_SERVICE_KEY` (one of
//! Tessera's `service_keys`), `MOVIES_LISTEN` (default 127.0.0.1:3000), `TESSERA_AUDIENCE`
//! (default `tessera`), `MOVIES_COOKIES=true` to accept Tessera's access cookie from browsers
//! (with the CSRF rules) besides bearer tokens, and `MOVIES_ALLOWED_ORIGINS` (comma-separated)
//! for the pages that may use it.

use std::collections::HashMap;

use anyhow::Context;
use movies::Settings;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter("info")
        .with_writer(std::io::stderr)
        .init();
    let env: HashMap<String, String> = std::env::vars().collect();
    let get =
        |key: &str, default: &str| env.get(key).cloned().unwrap_or_else(|| default.to_owned());
    let settings = Settings {
        tessera_url: get("TESSERA_URL", "http://127.0.0.1:8080"),
        service_key: env
            .get("MOVIES_SERVICE_KEY")
            .cloned()
            .context("set MOVIES_SERVICE_KEY to one of Tessera's service_keys")?,
        audience: get("TESSERA_AUDIENCE", "tessera"),
        browser_origins: (get("MOVIES_COOKIES", "false") == "true").then(|| {
            get("MOVIES_ALLOWED_ORIGINS", "")
                .split(',')
                .map(str::trim)
                .filter(|origin| !origin.is_empty())
                .map(str::to_owned)
                .collect()
        }),
    };
    let listen = get("MOVIES_LISTEN", "127.0.0.1:3000");
    let app = movies::app(settings)
        .await
        .context("connecting to Tessera")?;
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    println!("movies listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
