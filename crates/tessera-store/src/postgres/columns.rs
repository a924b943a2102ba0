//! Reading PostgreSQL columns into domain values: native `uuid`, `timestamptz`, `text[]`.

use sqlx::postgres::PgRow;
use sqlx::{Decode, Postgres, Row, Type};
use tessera_core::StoreError;
use tessera_core::account::Role;

use crate::decode;
use crate::error::store_error;

/// A column's value.
pub(super) fn get<'r, T>(row: &'r PgRow, column: &str) -> Result<T, StoreError>
where
    T: Decode<'r, Postgres> + Type<Postgres>,
{
    row.try_get(column).map_err(store_error)
}

/// The `text[]` roles column.
pub(super) fn get_roles(row: &PgRow, column: &str) -> Result<Vec<Role>, StoreError> {
    decode::roles(&get::<Vec<String>>(row, column)?)
}

/// Role names to bind as `text[]`.
pub(super) fn role_names(roles: &[Role]) -> Vec<&str> {
    roles.iter().map(Role::as_str).collect()
}
