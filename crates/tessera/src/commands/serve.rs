//! `tessera serve`.

use anyhow::Context;

use crate::config::Settings;
use crate::startup::{Application, Overrides};

/// Builds the server, says where things are, and serves until stopped.
pub async fn run(settings: &Settings) -> anyhow::Result<()> {
    tessera_store::create_private_dir(&settings.data_dir).with_context(|| {
        format!(
            "creating the data directory {}",
            settings.data_dir.display()
        )
    })?;
    let app = Application::build(settings, Overrides::default()).await?;
    let base = settings.effective_public_url(app.local_addr());
    let database = if settings.database_url.is_empty() {
        format!(
            "SQLite at {}",
            settings.data_dir.join("tessera.db").display()
        )
    } else {
        settings.database_url.masked()
    };
    println!("Tessera listening on http://{}", app.local_addr());
    println!("  API docs:  {base}/docs");
    println!("  JWKS:      {base}/.well-known/jwks.json");
    println!("  database:  {database}");
    println!("  data dir:  {}", settings.data_dir.display());
    tracing::info!(addr = %app.local_addr(), "listening");
    app.run_until_stopped().await?;
    tracing::info!("stopped");
    Ok(())
}
