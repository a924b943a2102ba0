//! The audit trail in SQLite.

use async_trait::async_trait;
use tessera_core::StoreError;
use tessera_core::ports::{AuditEvent, AuditStore};

use super::SqliteStore;
use super::columns::{id_text, micros};
use crate::error::store_error;

#[async_trait]
impl AuditStore for SqliteStore {
    async fn record_audit(&self, event: &AuditEvent) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO audit_events (id, at, actor_user_id, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
            .bind(id_text(event.id))
            .bind(micros(event.at))
            .bind(event.actor.map(|id| id_text(id.0)))
            .bind(&event.action)
            .bind(&event.target)
            .bind(event.detail.as_ref().map(serde_json::Value::to_string))
            .execute(&mut *self.writer.acquire().await?)
            .await
            .map_err(store_error)?;
        Ok(())
    }
}
