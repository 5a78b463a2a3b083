//! A result row read by column position, whichever way it was fetched: through sqlx (one
//! person's facts, a request at a time) or on a raw handle (`bulk.rs`: a million people's
//! facts for a recoloring). One decoder per kind of row serves both, so the two paths cannot
//! drift apart; each decoder's column order is the `*_COLUMNS` constant its queries select.

use healthcode_store::{StoreError, StoreResult};
use sqlx::Row as _;
use sqlx::sqlite::SqliteRow;

use crate::bulk;

pub(crate) trait Columns {
    /// Column `i` as text; NULL is an error.
    fn text(&self, i: usize) -> StoreResult<&str>;
    /// Column `i` as text, `None` for NULL.
    fn opt_text(&self, i: usize) -> StoreResult<Option<&str>>;
    /// Column `i` as an integer; NULL is an error.
    fn int(&self, i: usize) -> StoreResult<i64>;
    /// Column `i` as an integer, `None` for NULL.
    fn opt_int(&self, i: usize) -> StoreResult<Option<i64>>;
    /// Column `i` as bytes; NULL is an error.
    fn blob(&self, i: usize) -> StoreResult<&[u8]>;
    /// Column `i` as bytes, `None` for NULL.
    fn opt_blob(&self, i: usize) -> StoreResult<Option<&[u8]>>;

    /// Column `i` as a calendar day (stored as `YYYY-MM-DD` text).
    fn date(&self, i: usize) -> StoreResult<chrono::NaiveDate> {
        let t = self.text(i)?;
        chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d").map_err(|_| StoreError::Corrupt(format!("date {t:?}")))
    }
}

fn sqlx_err(e: sqlx::Error) -> StoreError {
    StoreError::Corrupt(format!("column: {e}"))
}

impl Columns for SqliteRow {
    fn text(&self, i: usize) -> StoreResult<&str> {
        self.try_get(i).map_err(sqlx_err)
    }
    fn opt_text(&self, i: usize) -> StoreResult<Option<&str>> {
        self.try_get(i).map_err(sqlx_err)
    }
    fn int(&self, i: usize) -> StoreResult<i64> {
        self.try_get(i).map_err(sqlx_err)
    }
    fn opt_int(&self, i: usize) -> StoreResult<Option<i64>> {
        self.try_get(i).map_err(sqlx_err)
    }
    fn blob(&self, i: usize) -> StoreResult<&[u8]> {
        self.try_get(i).map_err(sqlx_err)
    }
    fn opt_blob(&self, i: usize) -> StoreResult<Option<&[u8]>> {
        self.try_get(i).map_err(sqlx_err)
    }
}

/// A NULL where a value must be.
fn null(i: usize) -> StoreError {
    StoreError::Corrupt(format!("column {i}: unexpected NULL"))
}

impl Columns for bulk::Row<'_> {
    fn text(&self, i: usize) -> StoreResult<&str> {
        self.opt_text(i)?.ok_or_else(|| null(i))
    }
    fn opt_text(&self, i: usize) -> StoreResult<Option<&str>> {
        let c = i as std::ffi::c_int;
        if self.column_is_null(c) { Ok(None) } else { self.column_text(c).map(Some) }
    }
    fn int(&self, i: usize) -> StoreResult<i64> {
        self.opt_int(i)?.ok_or_else(|| null(i))
    }
    fn opt_int(&self, i: usize) -> StoreResult<Option<i64>> {
        let c = i as std::ffi::c_int;
        Ok(if self.column_is_null(c) { None } else { Some(self.column_int(c)) })
    }
    fn blob(&self, i: usize) -> StoreResult<&[u8]> {
        self.opt_blob(i)?.ok_or_else(|| null(i))
    }
    fn opt_blob(&self, i: usize) -> StoreResult<Option<&[u8]>> {
        let c = i as std::ffi::c_int;
        Ok(if self.column_is_null(c) { None } else { Some(self.column_blob(c)) })
    }
}
