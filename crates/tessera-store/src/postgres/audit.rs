//! The audit trail in PostgreSQL.

use async_trait::async_trait;
use tessera_core::StoreError;
use tessera_core::ports::{AuditEvent, AuditStore};

use super::PgStore;
use crate::error::store_error;

#[async_trait]
impl AuditStore for PgStore {
    async fn record_audit(&self, event: &AuditEvent) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO audit_events (id, at, actor_user_id, action, target, detail) VALUES ($1, $2, $3, $4, $5, $6::jsonb)")
            .bind(event.id)
            .bind(event.at)
            .bind(event.actor.map(|id| id.0))
            .bind(&event.action)
            .bind(&event.target)
            .bind(event.detail.as_ref().map(serde_json::Value::to_string))
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(())
    }
}
