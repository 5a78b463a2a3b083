//! Bulk inserts: one prepared statement stepped in a tight loop on the writer connection;
//! and its read-side twin, many small seeks on a reader connection.
//!
//! sqlx runs every statement through its connection's worker thread with boxed arguments;
//! for an import of millions of rows that costs more than SQLite's own work. Here the writer
//! connection is taken from its pool, its raw handle locked out of sqlx's worker
//! (`lock_handle`), and the rows bound, stepped and reset on a blocking thread, all in one
//! transaction. Tracing's thousands of index seeks per job go the same way on a reader
//! connection ([`read`]: one read transaction, rows handed to a closure as borrowed columns).
//! This file is the only `unsafe` code of the crate.
//!
//! Safety argument, once for the whole file: the `sqlite3*` comes from a
//! `LockedSqliteHandle`, which guarantees that sqlx's worker makes no call on it while the
//! lock lives, and the lock lives (on the same thread) for the whole use of the handle. Text
//! and blobs are bound with `SQLITE_STATIC`: they borrow from `rows`, which outlives the
//! statement's `step` and is unbound by `reset` before the next row. ([`Statement::insert`]
//! leaves them bound after the step, stale, and binds every parameter anew before the next
//! step: SQLite reads bound values only while stepping, and this file never asks it for a
//! statement's expanded text.) Columns read from a result row ([`Row`]) borrow the statement
//! and cannot outlive the step that made them.

use std::ffi::{CStr, CString, c_int};
use std::marker::PhantomData;
use std::ptr::{NonNull, null_mut};

use healthcode_store::{StoreError, StoreResult};
use libsqlite3_sys as ffi;
use sqlx::SqlitePool;

/// One bound value.
#[derive(Clone, Copy)]
pub(crate) enum Value<'a> {
    Text(&'a str),
    Blob(&'a [u8]),
    Int(i64),
    Null,
}

/// Page cache of the writer while a bulk insert runs (a budget; pages are allocated as
/// touched and released afterwards). A batch sorted by the random index's key touches each of
/// that index's leaf pages about once, so the cache must hold them all, about 20 MiB per
/// million rows, or every row reads its page back from the file.
const BULK_CACHE_KIB: i64 = 1 << 20;

/// Runs `work` in one transaction (`BEGIN IMMEDIATE` … `COMMIT`, `ROLLBACK` on any error, so
/// it is all or nothing) on the writer connection, on a blocking thread, with the bulk page
/// cache. The connection is closed afterwards (the pool opens a fresh one with the usual
/// cache): SQLite never shrinks a page cache's hash table, so after a bulk write every later
/// small commit would walk a table sized for a gigabyte at its end (the scans' group commit
/// paid ~19 % more CPU per commit after a million bulk rows; docs/benchmarks.md).
pub(crate) async fn write<R, W>(writer: &SqlitePool, work: W) -> StoreResult<R>
where
    R: Send + 'static,
    W: FnOnce(&Db) -> StoreResult<R> + Send + 'static,
{
    locked(writer, Cache::Bulk, Commit::Once, work).await
}

/// As [`write`], but `work` makes its own transactions ([`Db::transaction`], one per batch):
/// for loads too large for one transaction (its WAL would grow to the size of the load).
pub(crate) async fn write_batches<R, W>(writer: &SqlitePool, work: W) -> StoreResult<R>
where
    R: Send + 'static,
    W: FnOnce(&Db) -> StoreResult<R> + Send + 'static,
{
    locked(writer, Cache::Bulk, Commit::ByWork, work).await
}

/// Runs `work` on a reader connection, on a blocking thread, in one read transaction (every
/// statement of `work` sees the same commits). Several calls at once use several connections
/// of the pool, so they read in parallel.
pub(crate) async fn read<R, W>(reader: &SqlitePool, work: W) -> StoreResult<R>
where
    R: Send + 'static,
    W: FnOnce(&Db) -> StoreResult<R> + Send + 'static,
{
    let mut conn = reader.acquire().await.map_err(crate::db_err)?;
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let mut locked = runtime.block_on(conn.lock_handle()).map_err(crate::db_err)?;
        let db = Db(locked.as_raw_handle());
        db.exec("BEGIN")?;
        let result = work(&db);
        // A read transaction has nothing to keep: ending it only releases the snapshot.
        let ended = db.exec("COMMIT");
        let outcome = result?;
        ended?;
        Ok(outcome)
    })
    .await
    .map_err(|e| StoreError::Backend(format!("bulk read task: {e}")))?
}

/// Runs `work` over `items` cut into up to `parts` contiguous parts, each in a read
/// transaction of its own on its own reader connection ([`read`]), all at once; the outputs
/// come back in the order of the items. Parts of fewer than `min_per_part` items are not
/// worth a connection: a few items go in one part.
pub(crate) async fn read_parts<T, U, W>(
    reader: &SqlitePool,
    items: Vec<T>,
    parts: usize,
    min_per_part: usize,
    work: W,
) -> StoreResult<Vec<U>>
where
    T: Send + Sync + 'static,
    U: Send + 'static,
    W: Fn(&Db, &[T]) -> StoreResult<Vec<U>> + Send + Sync + 'static,
{
    let parts = items.len().div_ceil(min_per_part.max(1)).clamp(1, parts.max(1));
    let per_part = items.len().div_ceil(parts).max(1);
    let (items, work) = (std::sync::Arc::new(items), std::sync::Arc::new(work));
    let tasks: Vec<_> = (0..items.len())
        .step_by(per_part)
        .map(|from| {
            let (reader, items, work) = (reader.clone(), items.clone(), work.clone());
            tokio::spawn(async move {
                let to = (from + per_part).min(items.len());
                read(&reader, move |db| work(db, &items[from..to])).await
            })
        })
        .collect();
    let mut out = Vec::with_capacity(items.len());
    for task in tasks {
        out.extend(task.await.map_err(|e| StoreError::Backend(format!("read task: {e}")))??);
    }
    Ok(out)
}

/// Who commits: the helper, around all of `work`; or `work`, batch by batch.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Commit {
    Once,
    ByWork,
}

/// The writer's page cache for the work: its usual one, or the bulk one (then the connection
/// is closed after, see [`write`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cache {
    Usual,
    Bulk,
}

/// As [`write`], with the writer's usual page cache: for small transactions that come often
/// (a group commit of checkpoint scans), where sqlx's per-statement cost is the bulk of it.
pub(crate) async fn write_small<R, W>(writer: &SqlitePool, work: W) -> StoreResult<R>
where
    R: Send + 'static,
    W: FnOnce(&Db) -> StoreResult<R> + Send + 'static,
{
    locked(writer, Cache::Usual, Commit::Once, work).await
}

/// As [`write_small`], but run on the calling task's own thread when the database's write
/// lock is free at once: for work of a millisecond or two that comes hundreds of times a
/// second (the group commit of scans), where handing it to a blocking thread and back made
/// the scans wait (+10–15 % scans/s at 256 connections, `docs/benchmarks.md`). When another
/// process holds the write lock (a `healthcode import` on the same file), the work goes to a
/// blocking thread as [`write_small`] does, so the runtime's thread never waits for a lock.
/// Once the connection is locked nothing awaits, so a dropped future cannot abandon the
/// transaction halfway.
pub(crate) async fn write_inline<R, W>(writer: &SqlitePool, work: W) -> StoreResult<R>
where
    R: Send + 'static,
    W: FnOnce(&Db) -> StoreResult<R> + Send + 'static,
{
    let work = {
        let mut conn = writer.acquire().await.map_err(crate::db_err)?;
        let mut locked = conn.lock_handle().await.map_err(crate::db_err)?;
        match Db(locked.as_raw_handle()).transaction_now(work) {
            Ok(done) => return done,
            Err(work) => work,
        }
    };
    write_small(writer, work).await
}

async fn locked<R, W>(writer: &SqlitePool, cache: Cache, commit: Commit, work: W) -> StoreResult<R>
where
    R: Send + 'static,
    W: FnOnce(&Db) -> StoreResult<R> + Send + 'static,
{
    let mut conn = writer.acquire().await.map_err(crate::db_err)?;
    if cache == Cache::Bulk {
        conn.close_on_drop();
    }
    let runtime = tokio::runtime::Handle::current();
    // The connection moves into the blocking task: should the caller stop waiting, the task
    // still finishes (commit or rollback) before the connection goes back to the pool.
    tokio::task::spawn_blocking(move || {
        let mut locked = runtime.block_on(conn.lock_handle()).map_err(crate::db_err)?;
        let db = Db(locked.as_raw_handle());
        if cache == Cache::Bulk {
            db.exec(&format!("PRAGMA cache_size = -{BULK_CACHE_KIB}"))?;
        }
        if commit == Commit::Once { db.transaction(work) } else { work(&db) }
    })
    .await
    .map_err(|e| StoreError::Backend(format!("bulk write task: {e}")))?
}

/// A locked raw handle (see the safety argument at the top of the file).
pub(crate) struct Db(NonNull<ffi::sqlite3>);

impl Db {
    fn error(&self, what: &str) -> StoreError {
        // SAFETY: a valid handle; sqlite3_errmsg returns a NUL-terminated string it owns.
        let msg = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(self.0.as_ptr())) };
        StoreError::Backend(format!("{what}: {}", msg.to_string_lossy()))
    }

    pub(crate) fn exec(&self, sql: &str) -> StoreResult<()> {
        let sql = CString::new(sql).map_err(|_| StoreError::Backend("SQL with a NUL byte".into()))?;
        // SAFETY: a valid handle and a NUL-terminated statement; no callback.
        let rc = unsafe { ffi::sqlite3_exec(self.0.as_ptr(), sql.as_ptr(), None, null_mut(), null_mut()) };
        if rc == ffi::SQLITE_OK { Ok(()) } else { Err(self.error("exec")) }
    }

    /// Runs `work` in one write transaction: committed if it succeeds, rolled back if not.
    pub(crate) fn transaction<R>(&self, work: impl FnOnce(&Db) -> StoreResult<R>) -> StoreResult<R> {
        self.exec("BEGIN IMMEDIATE")?;
        self.commit_or_roll_back(work)
    }

    /// Runs `work` in the transaction just begun, then commits it, or rolls it back if either fails.
    fn commit_or_roll_back<R>(&self, work: impl FnOnce(&Db) -> StoreResult<R>) -> StoreResult<R> {
        match work(self).and_then(|r| self.exec("COMMIT").map(|()| r)) {
            Ok(r) => Ok(r),
            Err(e) => {
                // Nothing of the transaction stays; the original error is the one to report.
                let _ = self.exec("ROLLBACK");
                Err(e)
            }
        }
    }

    /// As [`Db::transaction`] if the write lock can be taken without waiting; `Err(work)`,
    /// untouched, if another connection holds it.
    pub(crate) fn transaction_now<R, W>(&self, work: W) -> Result<StoreResult<R>, W>
    where
        W: FnOnce(&Db) -> StoreResult<R>,
    {
        let wait_ms = i32::try_from(crate::BUSY_TIMEOUT.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: a valid handle; the busy handler is SQLite's own, restored right after.
        let rc = unsafe {
            ffi::sqlite3_busy_timeout(self.0.as_ptr(), 0);
            let rc = ffi::sqlite3_exec(self.0.as_ptr(), c"BEGIN IMMEDIATE".as_ptr(), None, null_mut(), null_mut());
            ffi::sqlite3_busy_timeout(self.0.as_ptr(), wait_ms);
            rc
        };
        match rc {
            ffi::SQLITE_OK => Ok(self.commit_or_roll_back(work)),
            ffi::SQLITE_BUSY => Err(work),
            _ => Ok(Err(self.error("begin"))),
        }
    }

    pub(crate) fn prepare(&self, sql: &str) -> StoreResult<Statement<'_>> {
        Statement::prepare(self, sql)
    }

    /// The rowid of the last row inserted on this connection.
    pub(crate) fn last_insert_rowid(&self) -> i64 {
        // SAFETY: a valid handle.
        unsafe { ffi::sqlite3_last_insert_rowid(self.0.as_ptr()) }
    }
}

pub(crate) struct Statement<'db> {
    db: &'db Db,
    raw: NonNull<ffi::sqlite3_stmt>,
}

impl<'db> Statement<'db> {
    fn prepare(db: &'db Db, sql: &str) -> StoreResult<Self> {
        let len = c_int::try_from(sql.len()).map_err(|_| StoreError::Backend("SQL too long".into()))?;
        let mut raw = null_mut();
        // SAFETY: a valid handle; `sql` is read for `len` bytes; `raw` receives the statement.
        let rc = unsafe { ffi::sqlite3_prepare_v2(db.0.as_ptr(), sql.as_ptr().cast(), len, &mut raw, null_mut()) };
        match NonNull::new(raw) {
            Some(raw) if rc == ffi::SQLITE_OK => Ok(Self { db, raw }),
            _ => Err(db.error("prepare")),
        }
    }

    fn bind(&self, values: &[Value<'_>]) -> StoreResult<()> {
        let s = self.raw.as_ptr();
        for (i, v) in values.iter().enumerate() {
            let at = i as c_int + 1;
            // SAFETY: a valid statement; text and blobs outlive the step below and are
            // unbound by the reset that follows it (SQLITE_STATIC: SQLite does not copy).
            let rc = unsafe {
                match v {
                    Value::Text(t) => {
                        ffi::sqlite3_bind_text(s, at, t.as_ptr().cast(), t.len() as c_int, ffi::SQLITE_STATIC())
                    }
                    Value::Blob(b) => {
                        ffi::sqlite3_bind_blob(s, at, b.as_ptr().cast(), b.len() as c_int, ffi::SQLITE_STATIC())
                    }
                    Value::Int(n) => ffi::sqlite3_bind_int64(s, at, *n),
                    Value::Null => ffi::sqlite3_bind_null(s, at),
                }
            };
            if rc != ffi::SQLITE_OK {
                return Err(self.db.error("bind"));
            }
        }
        Ok(())
    }

    /// Resets the statement for the next row; also drops the borrowed bindings.
    fn reset(&self) {
        // SAFETY: a valid statement.
        unsafe {
            ffi::sqlite3_reset(self.raw.as_ptr());
            ffi::sqlite3_clear_bindings(self.raw.as_ptr());
        }
    }

    /// Binds one row, steps it to completion and resets; returns the rows it changed (0 or 1
    /// for an insert).
    pub(crate) fn run(&self, values: &[Value<'_>]) -> StoreResult<u64> {
        let changed = self.bind(values).and_then(|()| {
            // SAFETY: a valid, fully bound statement on a locked handle.
            match unsafe { ffi::sqlite3_step(self.raw.as_ptr()) } {
                // SAFETY: a valid handle.
                ffi::SQLITE_DONE => Ok(unsafe { ffi::sqlite3_changes(self.db.0.as_ptr()) } as u64),
                _ => Err(self.db.error("write")),
            }
        });
        self.reset();
        changed
    }

    /// As [`Statement::run`], for a statement stepped once per row of a bulk write: every
    /// parameter is bound anew for each row (a count of values other than the statement's
    /// parameters is an error), so the bindings are not cleared after the step (clearing
    /// them was 2-3 % of an import's writer).
    pub(crate) fn insert(&self, values: &[Value<'_>]) -> StoreResult<u64> {
        // SAFETY: a valid statement.
        let parameters = unsafe { ffi::sqlite3_bind_parameter_count(self.raw.as_ptr()) };
        if usize::try_from(parameters).ok() != Some(values.len()) {
            return Err(StoreError::Backend(format!("insert: {} values for {parameters} parameters", values.len())));
        }
        let changed = self.bind(values).and_then(|()| {
            // SAFETY: a valid statement on a locked handle, all its parameters bound above.
            match unsafe { ffi::sqlite3_step(self.raw.as_ptr()) } {
                // SAFETY: a valid handle.
                ffi::SQLITE_DONE => Ok(unsafe { ffi::sqlite3_changes(self.db.0.as_ptr()) } as u64),
                _ => Err(self.db.error("write")),
            }
        });
        // SAFETY: a valid statement; the bindings stay (see the safety argument at the top).
        unsafe { ffi::sqlite3_reset(self.raw.as_ptr()) };
        changed
    }
}

impl Statement<'_> {
    /// Binds one set of values and calls `each` with every result row.
    pub(crate) fn query_each(
        &self,
        values: &[Value<'_>],
        mut each: impl FnMut(&Row<'_>) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let result = self.bind(values).and_then(|()| {
            loop {
                // SAFETY: a valid, fully bound statement on a locked handle.
                match unsafe { ffi::sqlite3_step(self.raw.as_ptr()) } {
                    ffi::SQLITE_ROW => each(&Row { raw: self.raw, _step: PhantomData })?,
                    ffi::SQLITE_DONE => return Ok(()),
                    _ => return Err(self.db.error("query")),
                }
            }
        });
        self.reset();
        result
    }
}

impl Statement<'_> {
    /// Binds one set of values and returns the first column of the first result row as text
    /// (`None` when there is no row or it is NULL).
    pub(crate) fn query_text(&self, values: &[Value<'_>]) -> StoreResult<Option<String>> {
        let mut first = None;
        self.query_each(values, |r| {
            if first.is_none() {
                first = Some(if r.column_is_null(0) { None } else { Some(r.column_text(0)?.to_string()) });
            }
            Ok(())
        })?;
        Ok(first.flatten())
    }

    /// Binds one set of values and decodes every result row.
    pub(crate) fn query_all<T>(
        &self,
        values: &[Value<'_>],
        decode: impl Fn(&Row<'_>) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        let mut out = Vec::new();
        self.query_each(values, |r| {
            out.push(decode(r)?);
            Ok(())
        })?;
        Ok(out)
    }
}

/// The current result row of a statement, valid until its next step.
pub(crate) struct Row<'s> {
    raw: NonNull<ffi::sqlite3_stmt>,
    _step: PhantomData<&'s ()>,
}

impl Row<'_> {
    /// Column `i` as text (NULL reads as empty); borrowed from SQLite until the next step.
    pub(crate) fn column_text(&self, i: c_int) -> StoreResult<&str> {
        let s = self.raw.as_ptr();
        // SAFETY: column `i` of the current row; the pointer stays valid until the next step,
        // which the borrow of `self` (tied to this row) rules out.
        let p = unsafe { ffi::sqlite3_column_text(s, i) };
        if p.is_null() {
            return Ok("");
        }
        // SAFETY: as above; sqlite3_column_bytes follows sqlite3_column_text.
        let n = unsafe { ffi::sqlite3_column_bytes(s, i) } as usize;
        // SAFETY: `n` bytes at `p`, owned by SQLite while this row lives.
        let bytes = unsafe { std::slice::from_raw_parts(p, n) };
        std::str::from_utf8(bytes).map_err(|_| StoreError::Corrupt(format!("column {i}: not UTF-8")))
    }

    /// Column `i` as an integer (NULL reads as 0).
    pub(crate) fn column_int(&self, i: c_int) -> i64 {
        // SAFETY: column `i` of the current row of a valid statement.
        unsafe { ffi::sqlite3_column_int64(self.raw.as_ptr(), i) }
    }

    /// Column `i` as bytes (NULL reads as empty); borrowed from SQLite until the next step.
    pub(crate) fn column_blob(&self, i: c_int) -> &[u8] {
        let s = self.raw.as_ptr();
        // SAFETY: column `i` of the current row; valid until the next step (see `column_text`).
        let p = unsafe { ffi::sqlite3_column_blob(s, i) };
        if p.is_null() {
            return &[];
        }
        // SAFETY: as above; sqlite3_column_bytes follows sqlite3_column_blob.
        let n = unsafe { ffi::sqlite3_column_bytes(s, i) } as usize;
        // SAFETY: `n` bytes at `p`, owned by SQLite while this row lives.
        unsafe { std::slice::from_raw_parts(p.cast::<u8>(), n) }
    }

    /// Whether column `i` is NULL.
    pub(crate) fn column_is_null(&self, i: c_int) -> bool {
        // SAFETY: column `i` of the current row of a valid statement.
        unsafe { ffi::sqlite3_column_type(self.raw.as_ptr(), i) == ffi::SQLITE_NULL }
    }
}

impl Drop for Statement<'_> {
    fn drop(&mut self) {
        // SAFETY: a statement prepared on this handle, finalized once.
        unsafe { ffi::sqlite3_finalize(self.raw.as_ptr()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn insert_refuses_values_that_do_not_bind_every_parameter() {
        let dir = std::env::temp_dir().join(format!("healthcode-bulk-insert-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = crate::SqliteStore::open(&dir.join("db.sqlite")).await.unwrap();
        let sql = "INSERT INTO telecom_stays_by_phone (phone_key, stay_id) VALUES (?1, ?2)";
        // A stale binding from the row before must not fill in for a missing value.
        let short = write(&store.writer, move |db| {
            let insert = db.prepare(sql)?;
            assert_eq!(insert.insert(&[Value::Blob(b"12345678"), Value::Int(1)])?, 1);
            insert.insert(&[Value::Blob(b"12345679")])
        })
        .await;
        assert!(short.is_err(), "{short:?}");
        // The transaction was rolled back whole; rows bound in full go in.
        let written = write(&store.writer, move |db| {
            let insert = db.prepare(sql)?;
            let mut n = 0;
            for id in 1..=3 {
                n += insert.insert(&[Value::Blob(b"12345678"), Value::Int(id)])?;
            }
            let mut count = 0;
            db.prepare("SELECT count(*) FROM telecom_stays_by_phone")?.query_each(&[], |r| {
                count = r.column_int(0);
                Ok(())
            })?;
            Ok((n, count))
        })
        .await
        .unwrap();
        assert_eq!(written, (3, 3));
        drop(store);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[tokio::test]
    async fn readers_and_the_writer_map_the_whole_file_and_tracing_reads_pages() {
        let dir = std::env::temp_dir().join(format!("healthcode-bulk-mmap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = crate::SqliteStore::open(&dir.join("db.sqlite")).await.unwrap();
        let mapped = |db: &Db| {
            let mut size = 0;
            db.prepare("PRAGMA mmap_size")?.query_each(&[], |r| {
                size = r.column_int(0);
                Ok(())
            })?;
            Ok(size)
        };
        // SQLite silently caps the map at SQLITE_MAX_MMAP_SIZE: 2 GiB unless the build raised it
        // (`.cargo/config.toml`); a build without it would map a quarter of a 10 M-person file.
        assert_eq!(read(&store.reader, mapped).await.unwrap(), crate::MMAP_BYTES);
        assert_eq!(write_small(&store.writer, mapped).await.unwrap(), crate::MMAP_BYTES);
        assert_eq!(read(&store.tracer, mapped).await.unwrap(), 0);
        drop(store);
        std::fs::remove_dir_all(&dir).ok();
    }
}
