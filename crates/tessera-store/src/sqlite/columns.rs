//! How domain values sit in SQLite columns: UUIDs as text, times as integer microseconds
//! since the Unix epoch, roles as a JSON array.

use sqlx::sqlite::SqliteRow;
use sqlx::{Decode, Row, Sqlite, Type};
use tessera_core::StoreError;
use tessera_core::account::Role;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::decode;
use crate::error::{corrupt, store_error};

/// `at` as microseconds since the Unix epoch; sub-microsecond digits are dropped, exactly as
/// PostgreSQL's `timestamptz` does, so both backends read back the same value.
pub(super) fn micros(at: OffsetDateTime) -> i64 {
    let micros = at.unix_timestamp_nanos().div_euclid(1_000);
    // Only years beyond ±292,000 overflow; saturating keeps them ordered.
    i64::try_from(micros).unwrap_or(if micros < 0 { i64::MIN } else { i64::MAX })
}

/// The text form of an id: hyphenated lower case, whose text order is the UUID byte order.
pub(super) fn id_text(id: Uuid) -> String {
    id.hyphenated().to_string()
}

/// `roles` as a JSON array of names.
pub(super) fn roles_json(roles: &[Role]) -> String {
    let names: Vec<&str> = roles.iter().map(Role::as_str).collect();
    serde_json::Value::from(names).to_string()
}

/// A column's raw value.
pub(super) fn get<'r, T>(row: &'r SqliteRow, column: &str) -> Result<T, StoreError>
where
    T: Decode<'r, Sqlite> + Type<Sqlite>,
{
    row.try_get(column).map_err(store_error)
}

/// A time column.
pub(super) fn get_time(row: &SqliteRow, column: &str) -> Result<OffsetDateTime, StoreError> {
    time_from_micros(column, get(row, column)?)
}

/// A nullable time column.
pub(super) fn get_optional_time(
    row: &SqliteRow,
    column: &str,
) -> Result<Option<OffsetDateTime>, StoreError> {
    get::<Option<i64>>(row, column)?
        .map(|micros| time_from_micros(column, micros))
        .transpose()
}

/// A UUID column.
pub(super) fn get_uuid(row: &SqliteRow, column: &str) -> Result<Uuid, StoreError> {
    let text: String = get(row, column)?;
    Uuid::parse_str(&text).map_err(|err| corrupt(column, err))
}

/// A nullable UUID column.
pub(super) fn get_optional_uuid(row: &SqliteRow, column: &str) -> Result<Option<Uuid>, StoreError> {
    get::<Option<String>>(row, column)?
        .map(|text| Uuid::parse_str(&text).map_err(|err| corrupt(column, err)))
        .transpose()
}

/// The JSON roles column.
pub(super) fn get_roles(row: &SqliteRow, column: &str) -> Result<Vec<Role>, StoreError> {
    let json: String = get(row, column)?;
    let names: Vec<String> = serde_json::from_str(&json).map_err(|err| corrupt(column, err))?;
    decode::roles(&names)
}

fn time_from_micros(column: &str, micros: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .map_err(|err| corrupt(column, err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_keep_microseconds_and_drop_nanoseconds() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_767_225_600_123_456_789).unwrap();
        let stored = micros(at);
        assert_eq!(stored, 1_767_225_600_123_456);
        assert_eq!(
            time_from_micros("t", stored).unwrap(),
            OffsetDateTime::from_unix_timestamp_nanos(1_767_225_600_123_456_000).unwrap()
        );
    }

    #[test]
    fn times_before_the_epoch_round_down() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(-1_500).unwrap();
        assert_eq!(micros(at), -2);
    }

    #[test]
    fn roles_are_a_json_array_of_names() {
        let roles = Role::parse_all(&["admin", "billing:read"]).unwrap();
        assert_eq!(roles_json(&roles), r#"["admin","billing:read"]"#);
        assert_eq!(roles_json(&[]), "[]");
    }
}
