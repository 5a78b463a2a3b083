//! The SQLite backend: the embedded default for a county on a laptop.
//!
//! WAL mode with one writer: every write goes through a pool of one connection, so write
//! transactions are serialised without "database is locked" retries, while reads run on a
//! separate pool concurrently with it.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use healthcode_core::otp::{OtpPolicy, OtpState};
use healthcode_core::{Declaration, RegionCode, SubjectId, Temperature};
use healthcode_store::codec;
use healthcode_store::*;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

use crate::columns::Columns;

mod bulk;
mod checkpointer;
mod columns;
mod decisions;
mod many;
mod migrate;
mod tracing;
mod visits;

/// Connections of tracing's read pool (opened as needed). Tracing reads its thousands of
/// index seeks on all of them at once (`tracing.rs`): on a database larger than memory they
/// wait on the disk, which answers more reads at once the more are asked. Each has a small
/// page cache ([`TRACE_CACHE_KIB`]): a job reads most pages once, and the operating system's
/// file cache is shared by all of them, so sixteen connections cost little memory.
const TRACE_READERS: u32 = 16;
const TRACE_CACHE_KIB: i64 = -8192;

/// Every connection reads the database file through a memory map (`mmap_size`) rather than a
/// `pread` into its page cache per page: a recoloring reads hundreds of thousands of index
/// pages at random, and each cost a system call and a 4 KiB copy out of the operating system's
/// file cache (`docs/benchmarks.md`, "Recolor"). The map is address space, not memory: the
/// pages are the file cache's, shared by every connection (they do count in the process's
/// RSS). Writes still go through the WAL. 1 TiB: all of any file this store will meet; the
/// build raises SQLite's own cap of 2 GiB to match (`.cargo/config.toml`).
const MMAP_BYTES: i64 = 1 << 40;

/// How long a connection waits for a lock another connection holds (another process writing
/// the same file) before its statement fails.
pub(crate) const BUSY_TIMEOUT: StdDuration = StdDuration::from_secs(10);

/// The page cache of each reader connection (`cache_size`, negative: KiB): 128 MiB, a budget
/// rather than an allocation.
const READ_CACHE_KIB: i64 = -131072;
/// The writer's usual page cache: 16 MiB. Small on purpose: at the end of every write
/// transaction whose B-tree balancing swapped two pages' numbers (`balance_nonroot` parks one
/// at the lock-byte page's number meanwhile; about every other group commit of scans), SQLite
/// walks the writer's whole page cache to drop pages past the end of the file, which at
/// 128 MiB (~27,000 pages cached) took about a tenth of a group commit. Bulk writes raise it
/// for their duration (`bulk.rs`).
const CACHE_SIZE_KIB: i64 = -16384;
mod overrides;
mod reviews;
mod stays;

/// Applies this backend's migrations up to `version` only, to make a database as an older
/// binary left it (tests of migrations that carry data).
#[doc(hidden)]
pub async fn migrate_up_to(pool: &SqlitePool, version: i64) -> StoreResult<()> {
    migrate::run_up_to(pool, version).await
}

pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    /// Tracing's parallel seeks (`tracing.rs`).
    tracer: SqlitePool,
    /// The WAL checkpointer runs while this lives (`checkpointer.rs`).
    _checkpointing: std::sync::Arc<()>,
}

fn db_err(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        let msg = db.message();
        for (column, which) in [
            ("persons.id_index", Unique::IdNumber),
            ("persons.phone_index", Unique::Phone),
            ("staff.token_hash", Unique::StaffToken),
            ("staff.id", Unique::StaffId),
        ] {
            if msg.contains(column) {
                return StoreError::Duplicate(which);
            }
        }
    }
    StoreError::Backend(e.to_string())
}

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn time(us: i64) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_micros(us).ok_or_else(|| StoreError::Corrupt(format!("time {us}")))
}

fn opt_time(us: Option<i64>) -> StoreResult<Option<DateTime<Utc>>> {
    us.map(time).transpose()
}

const PERSON_COLUMNS: &str = "p.subject_id, p.id_index, p.id_number_sealed, p.name_sealed, p.masked_name, \
     p.phone_index, p.phone_sealed, p.household_region, p.current_region, p.guardian_subject_id, \
     p.guardian_relation, p.created_at";

fn person_from_row(row: &SqliteRow) -> StoreResult<PersonRecord> {
    let get_s = |c: &str| row.try_get::<String, _>(c).map_err(db_err);
    let guardian = match row.try_get::<Option<String>, _>("guardian_subject_id").map_err(db_err)? {
        Some(g) => {
            Some(Guardian { subject_id: codec::subject(&g)?, relation: codec::relation(&get_s("guardian_relation")?)? })
        }
        None => None,
    };
    Ok(PersonRecord {
        subject_id: codec::subject(&get_s("subject_id")?)?,
        id_index: row.try_get("id_index").map_err(db_err)?,
        id_number_sealed: get_s("id_number_sealed")?,
        name_sealed: get_s("name_sealed")?,
        masked_name: get_s("masked_name")?,
        phone_index: row.try_get("phone_index").map_err(db_err)?,
        phone_sealed: row.try_get("phone_sealed").map_err(db_err)?,
        household_region: codec::region(&get_s("household_region")?)?,
        current_region: row
            .try_get::<Option<String>, _>("current_region")
            .map_err(db_err)?
            .map(|r| codec::region(&r))
            .transpose()?,
        guardian,
        created_at: time(row.try_get("created_at").map_err(db_err)?)?,
    })
}

const DECLARATION_COLUMNS: &str = "id, subject_id, day, temperature_tenths, symptoms, contact_with_suspected_case, \
     current_region, declared_by, declared_at, superseded_at";

fn declaration_from_row(r: &impl Columns) -> StoreResult<StoredDeclaration> {
    let tenths = r.int(3)?;
    Ok(StoredDeclaration {
        id: r.int(0)?,
        declaration: Declaration {
            subject_id: codec::subject(r.text(1)?)?,
            day: r.date(2)?,
            temperature: Temperature::from_tenths(
                i16::try_from(tenths).map_err(|_| StoreError::Corrupt(format!("temperature {tenths}")))?,
            ),
            symptoms: codec::symptoms_from_text(r.text(4)?)?,
            contact_with_suspected_case: r.int(5)? != 0,
            current_region: codec::region(r.text(6)?)?,
            declared_by: codec::subject(r.text(7)?)?,
            declared_at: time(r.int(8)?)?,
        },
        superseded_at: opt_time(r.opt_int(9)?)?,
    })
}

fn audit_from_row(row: &SqliteRow) -> StoreResult<AuditRecord> {
    let detail: String = row.try_get("detail").map_err(db_err)?;
    Ok(AuditRecord {
        seq: row.try_get("seq").map_err(db_err)?,
        entry: AuditEntry {
            at: time(row.try_get("at").map_err(db_err)?)?,
            actor: Actor {
                kind: row.try_get("actor_kind").map_err(db_err)?,
                id: row.try_get("actor_id").map_err(db_err)?,
                role: row.try_get("actor_role").map_err(db_err)?,
            },
            action: row.try_get("action").map_err(db_err)?,
            subject_id: row
                .try_get::<Option<String>, _>("subject_id")
                .map_err(db_err)?
                .map(|s| codec::subject(&s))
                .transpose()?,
            purpose: row.try_get("purpose").map_err(db_err)?,
            detail: serde_json::from_str(&detail).map_err(|e| StoreError::Corrupt(format!("audit detail: {e}")))?,
        },
    })
}

/// Appends an audit record, answering its `seq`: through sqlx (`insert_audit`) or on a raw
/// handle inside a bulk write (`bulk.rs`).
const AUDIT_INSERT: &str = "INSERT INTO audit_log (at, actor_kind, actor_id, actor_role, action, subject_id, purpose, \
     detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq";

async fn insert_audit(tx: &mut Transaction<'_, Sqlite>, e: &AuditEntry) -> StoreResult<i64> {
    let row = sqlx::query(AUDIT_INSERT)
        .bind(micros(e.at))
        .bind(&e.actor.kind)
        .bind(&e.actor.id)
        .bind(&e.actor.role)
        .bind(&e.action)
        .bind(e.subject_id.as_ref().map(SubjectId::as_str))
        .bind(&e.purpose)
        .bind(e.detail.to_string())
        .fetch_one(&mut **tx)
        .await
        .map_err(db_err)?;
    row.try_get(0).map_err(db_err)
}

/// The audit record of an officer's read.
fn read_audit(read: &StaffRead<'_>, action: &str, subject_id: &SubjectId) -> AuditEntry {
    AuditEntry {
        at: read.at,
        actor: Actor { kind: "staff".into(), id: read.staff_id.to_string(), role: Some("officer".into()) },
        action: action.into(),
        subject_id: Some(subject_id.clone()),
        purpose: Some(read.purpose.to_string()),
        detail: serde_json::json!({}),
    }
}

/// `EXISTS` clause: the staff member `?` is an officer with a region covering person `p`.
const OFFICER_SCOPE: &str = "EXISTS (SELECT 1 FROM staff s JOIN staff_regions r ON r.staff_id = s.id \
     WHERE s.id = ? AND s.role = 'officer' \
     AND (p.household_region LIKE r.pattern OR p.current_region LIKE r.pattern))";

#[derive(Clone, Copy)]
enum PersonKey<'a> {
    Subject(&'a SubjectId),
    Phone(&'a [u8]),
    IdIndex(&'a [u8]),
}

fn const_format(columns: &str, key_column: &str) -> String {
    format!("SELECT {columns} FROM persons p WHERE {key_column} = ?")
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies migrations.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        let options = SqliteConnectOptions::new().filename(path);
        Self::with_options(options).await
    }

    /// Opens a `sqlite://PATH` URL.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url).map_err(db_err)?;
        Self::with_options(options).await
    }

    async fn with_options(options: SqliteConnectOptions) -> StoreResult<Self> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // In WAL mode NORMAL loses no committed data on a process crash, only possibly
            // the last transactions on a power cut; the usual trade for SQLite servers.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            .pragma("mmap_size", MMAP_BYTES.to_string());
        let writer_options = options
            .clone()
            .pragma("cache_size", CACHE_SIZE_KIB.to_string())
            .pragma("wal_autocheckpoint", checkpointer::BACKSTOP_FRAMES.to_string());
        let writer = SqlitePoolOptions::new().max_connections(1).connect_with(writer_options).await.map_err(db_err)?;
        migrate::run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            // 128 MiB of page cache per reader (a budget, not an allocation).
            .connect_with(options.clone().read_only(true).pragma("cache_size", READ_CACHE_KIB.to_string()))
            .await
            .map_err(db_err)?;
        let tracer = SqlitePoolOptions::new()
            .max_connections(TRACE_READERS)
            // Not mapped: tracing's cold reads want one page per read, where a fault on the map
            // reads the pages around it too.
            .connect_with(
                options
                    .clone()
                    .read_only(true)
                    .pragma("cache_size", TRACE_CACHE_KIB.to_string())
                    .pragma("mmap_size", "0"),
            )
            .await
            .map_err(db_err)?;
        // Never writes: only copies the WAL into the database (`checkpointer.rs`).
        let checkpointer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.pragma("wal_autocheckpoint", "0"))
            .await
            .map_err(db_err)?;
        let alive = std::sync::Arc::new(());
        checkpointer::spawn(checkpointer, std::sync::Arc::downgrade(&alive));
        Ok(Self { writer, reader, tracer, _checkpointing: alive })
    }

    /// Copies the WAL into the database file and syncs it: after this, every commit so far
    /// survives a power cut (commits alone are durable against a crash of the process).
    pub async fn checkpoint(&self) -> StoreResult<()> {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&self.writer).await.map_err(db_err)?;
        Ok(())
    }

    async fn person_where(&self, key: PersonKey<'_>) -> StoreResult<Option<PersonRecord>> {
        let query = match key {
            PersonKey::Subject(_) => const_format(PERSON_COLUMNS, "p.subject_id"),
            PersonKey::Phone(_) => const_format(PERSON_COLUMNS, "p.phone_index"),
            PersonKey::IdIndex(_) => const_format(PERSON_COLUMNS, "p.id_index"),
        };
        let q = sqlx::query(&query);
        let q = match key {
            PersonKey::Subject(s) => q.bind(s.as_str()),
            PersonKey::Phone(p) | PersonKey::IdIndex(p) => q.bind(p),
        };
        let row = q.fetch_optional(&self.reader).await.map_err(db_err)?;
        row.as_ref().map(person_from_row).transpose()
    }
}

/// One person's lab tests sampled since a time (`?1` ID blind index, `?2` since).
const LAB_TESTS_OF: &str = "SELECT record_id, id_index, sampled_at, result FROM lab_tests \
     WHERE id_index = ?1 AND sampled_at >= ?2 ORDER BY sampled_at, record_id";

fn lab_test_from_row(r: &impl Columns) -> StoreResult<LabTestRecord> {
    Ok(LabTestRecord {
        record_id: r.text(0)?.to_string(),
        id_index: r.blob(1)?.to_vec(),
        sampled_at: time(r.int(2)?)?,
        result: codec::test_result(r.text(3)?)?,
    })
}

/// One person's case statuses (`?1` ID blind index).
const CASES_OF: &str =
    "SELECT record_id, id_index, status, at FROM case_statuses WHERE id_index = ?1 ORDER BY at, record_id";

fn case_from_row(r: &impl Columns) -> StoreResult<CaseStatusRecord> {
    Ok(CaseStatusRecord {
        record_id: r.text(0)?.to_string(),
        id_index: r.blob(1)?.to_vec(),
        status: codec::case_status(r.text(2)?)?,
        at: time(r.int(3)?)?,
    })
}

/// One person's trips (`?1` ID blind index).
const TRIPS_OF: &str = "SELECT record_id, id_index, carrier, number, date, coach, seat_row, seat FROM trips \
     WHERE id_index = ?1 ORDER BY date, record_id";

fn trip_from_row(r: &impl Columns) -> StoreResult<TripRecord> {
    Ok(TripRecord {
        record_id: r.text(0)?.to_string(),
        id_index: r.blob(1)?.to_vec(),
        carrier: codec::carrier(r.text(2)?)?,
        number: r.text(3)?.to_string(),
        date: r.date(4)?,
        coach: r.opt_text(5)?.map(str::to_string),
        row: r.text(6)?.to_string(),
        seat: r.text(7)?.to_string(),
    })
}

/// One person's vaccinations (`?1` ID blind index).
const VACCINATIONS_OF: &str = "SELECT record_id, id_index, date, dose, product FROM vaccinations WHERE id_index = ?1 \
     ORDER BY date, record_id";

fn vaccination_from_row(r: &impl Columns) -> StoreResult<VaccinationRecord> {
    let dose = r.int(3)?;
    Ok(VaccinationRecord {
        record_id: r.text(0)?.to_string(),
        id_index: r.blob(1)?.to_vec(),
        date: r.date(2)?,
        dose: u8::try_from(dose).map_err(|_| StoreError::Corrupt(format!("dose {dose}")))?,
        product: r.text(4)?.to_string(),
    })
}

type Insert<'q> = sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>;

impl SqliteStore {
    /// Inserts rows in multi-row statements in one transaction, leaving record ids already
    /// stored as they are; `head` is `INSERT INTO table (columns…)`.
    async fn insert_new<T: Sync>(
        &self,
        head: &str,
        columns: usize,
        rows: &[T],
        bind: for<'q> fn(Insert<'q>, &'q T) -> Insert<'q>,
    ) -> StoreResult<ImportOutcome> {
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let mut accepted = 0;
        for chunk in rows.chunks(codec::INSERT_CHUNK) {
            let sql = format!(
                "{head} VALUES {} ON CONFLICT (record_id) DO NOTHING",
                codec::placeholders(chunk.len(), columns, false)
            );
            let mut q = sqlx::query(&sql);
            for r in chunk {
                q = bind(q, r);
            }
            accepted += q.execute(&mut *tx).await.map_err(db_err)?.rows_affected();
        }
        tx.commit().await.map_err(db_err)?;
        Ok(ImportOutcome { accepted, duplicates: rows.len() as u64 - accepted })
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await.map_err(db_err)?;
        Ok(())
    }

    async fn otp_apply(
        &self,
        phone_index: &[u8],
        transition: OtpTransition,
        now: DateTime<Utc>,
        policy: &OtpPolicy,
    ) -> StoreResult<OtpResult> {
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let row = sqlx::query(
            "SELECT code_hash, expires_at, sent_at, failures, locked_until FROM otp_states WHERE phone_index = ?",
        )
        .bind(phone_index)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let prev = match row {
            Some(r) => Some(OtpState {
                code_hash: r.try_get("code_hash").map_err(db_err)?,
                expires_at: time(r.try_get("expires_at").map_err(db_err)?)?,
                sent_at: time(r.try_get("sent_at").map_err(db_err)?)?,
                failures: r.try_get::<i64, _>("failures").map_err(db_err)? as u32,
                locked_until: opt_time(r.try_get("locked_until").map_err(db_err)?)?,
            }),
            None => None,
        };
        let (result, next) = healthcode_store::otp::apply(prev.as_ref(), transition, now, policy);
        if let Some(s) = next {
            sqlx::query(
                "INSERT INTO otp_states (phone_index, code_hash, expires_at, sent_at, failures, locked_until) \
                 VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (phone_index) DO UPDATE SET code_hash = excluded.code_hash, \
                 expires_at = excluded.expires_at, sent_at = excluded.sent_at, failures = excluded.failures, \
                 locked_until = excluded.locked_until",
            )
            .bind(phone_index)
            .bind(s.code_hash)
            .bind(micros(s.expires_at))
            .bind(micros(s.sent_at))
            .bind(i64::from(s.failures))
            .bind(s.locked_until.map(micros))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(result)
    }

    async fn session_create(&self, s: &Session) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        // Expired sessions are swept as new ones arrive, so the table stays small.
        sqlx::query("DELETE FROM sessions WHERE expires_at <= ?")
            .bind(micros(s.created_at))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx::query("INSERT INTO sessions (token_hash, phone_index, created_at, expires_at) VALUES (?, ?, ?, ?)")
            .bind(&s.token_hash)
            .bind(&s.phone_index)
            .bind(micros(s.created_at))
            .bind(micros(s.expires_at))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn session_get(&self, token_hash: &[u8], now: DateTime<Utc>) -> StoreResult<Option<Session>> {
        let row = sqlx::query(
            "SELECT token_hash, phone_index, created_at, expires_at FROM sessions WHERE token_hash = ? AND expires_at > ?",
        )
        .bind(token_hash)
        .bind(micros(now))
        .fetch_optional(&self.reader)
        .await
        .map_err(db_err)?;
        row.map(|r| {
            Ok(Session {
                token_hash: r.try_get("token_hash").map_err(db_err)?,
                phone_index: r.try_get("phone_index").map_err(db_err)?,
                created_at: time(r.try_get("created_at").map_err(db_err)?)?,
                expires_at: time(r.try_get("expires_at").map_err(db_err)?)?,
            })
        })
        .transpose()
    }

    async fn session_delete(&self, token_hash: &[u8]) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = ?")
            .bind(token_hash)
            .execute(&self.writer)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn person_insert(&self, p: &PersonRecord) -> StoreResult<()> {
        let result = sqlx::query(
            "INSERT INTO persons (subject_id, id_index, id_number_sealed, name_sealed, masked_name, phone_index, \
             phone_sealed, household_region, current_region, guardian_subject_id, guardian_relation, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(p.subject_id.as_str())
        .bind(&p.id_index)
        .bind(&p.id_number_sealed)
        .bind(&p.name_sealed)
        .bind(&p.masked_name)
        .bind(&p.phone_index)
        .bind(&p.phone_sealed)
        .bind(p.household_region.to_string())
        .bind(p.current_region.map(|r| r.to_string()))
        .bind(p.guardian.as_ref().map(|g| g.subject_id.to_string()))
        .bind(p.guardian.as_ref().map(|g| g.relation.as_str()))
        .bind(micros(p.created_at))
        .execute(&self.writer)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => Err(StoreError::NotFound),
            Err(e) => Err(db_err(e)),
        }
    }

    async fn person_get(&self, subject_id: &SubjectId) -> StoreResult<Option<PersonRecord>> {
        self.person_where(PersonKey::Subject(subject_id)).await
    }

    async fn person_by_phone(&self, phone_index: &[u8]) -> StoreResult<Option<PersonRecord>> {
        self.person_where(PersonKey::Phone(phone_index)).await
    }

    async fn person_by_id_index(&self, id_index: &[u8]) -> StoreResult<Option<PersonRecord>> {
        self.person_where(PersonKey::IdIndex(id_index)).await
    }

    async fn dependents(&self, guardian: &SubjectId) -> StoreResult<Vec<PersonRecord>> {
        let sql = format!(
            "SELECT {PERSON_COLUMNS} FROM persons p WHERE p.guardian_subject_id = ? ORDER BY p.created_at, p.subject_id"
        );
        let rows = sqlx::query(&sql).bind(guardian.as_str()).fetch_all(&self.reader).await.map_err(db_err)?;
        rows.iter().map(person_from_row).collect()
    }

    async fn declaration_submit(&self, d: &Declaration) -> StoreResult<DeclarationReceipt> {
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let updated = sqlx::query("UPDATE persons SET current_region = ? WHERE subject_id = ?")
            .bind(d.current_region.to_string())
            .bind(d.subject_id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        let replaced = sqlx::query(
            "UPDATE declarations SET superseded_at = ? WHERE subject_id = ? AND day = ? AND superseded_at IS NULL",
        )
        .bind(micros(d.declared_at))
        .bind(d.subject_id.as_str())
        .bind(d.day)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected()
            > 0;
        let row = sqlx::query(
            "INSERT INTO declarations (subject_id, day, temperature_tenths, symptoms, contact_with_suspected_case, \
             current_region, declared_by, declared_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(d.subject_id.as_str())
        .bind(d.day)
        .bind(d.temperature.tenths())
        .bind(codec::symptoms_to_text(&d.symptoms))
        .bind(d.contact_with_suspected_case)
        .bind(d.current_region.to_string())
        .bind(d.declared_by.as_str())
        .bind(micros(d.declared_at))
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        let id = row.try_get(0).map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(DeclarationReceipt { id, replaced })
    }

    async fn declarations(&self, subject_id: &SubjectId, limit: u32) -> StoreResult<Vec<StoredDeclaration>> {
        let sql =
            format!("SELECT {DECLARATION_COLUMNS} FROM declarations WHERE subject_id = ? ORDER BY id DESC LIMIT ?");
        let rows = sqlx::query(&sql)
            .bind(subject_id.as_str())
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?;
        rows.iter().map(declaration_from_row).collect()
    }

    async fn declarations_drop_before(&self, day: NaiveDate) -> StoreResult<u64> {
        // Days are stored as ISO dates (`YYYY-MM-DD`), which order as the days do.
        let gone = sqlx::query("DELETE FROM declarations WHERE day < ?")
            .bind(day)
            .execute(&self.writer)
            .await
            .map_err(db_err)?;
        Ok(gone.rows_affected())
    }

    async fn declaration_for_day(
        &self,
        subject_id: &SubjectId,
        day: NaiveDate,
    ) -> StoreResult<Option<StoredDeclaration>> {
        let sql = format!(
            "SELECT {DECLARATION_COLUMNS} FROM declarations WHERE subject_id = ? AND day = ? AND superseded_at IS NULL"
        );
        let row =
            sqlx::query(&sql).bind(subject_id.as_str()).bind(day).fetch_optional(&self.reader).await.map_err(db_err)?;
        row.as_ref().map(declaration_from_row).transpose()
    }

    async fn staff_insert(&self, s: &Staff, audit: &AuditEntry) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        sqlx::query(
            "INSERT INTO staff (id, role, name, venue_id, import_kinds, token_hash, created_at, created_by) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&s.id)
        .bind(s.role.as_str())
        .bind(&s.name)
        .bind(&s.venue_id)
        .bind(codec::list_to_text(&s.import_kinds))
        .bind(&s.token_hash)
        .bind(micros(s.created_at))
        .bind(&s.created_by)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        for r in &s.regions {
            sqlx::query("INSERT INTO staff_regions (staff_id, region, pattern) VALUES (?, ?, ?)")
                .bind(&s.id)
                .bind(r.to_string())
                .bind(codec::region_pattern(r))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn staff_by_token(&self, token_hash: &[u8]) -> StoreResult<Option<Staff>> {
        let row = sqlx::query(
            "SELECT s.id, s.role, s.name, s.venue_id, s.import_kinds, s.token_hash, s.created_at, s.created_by, \
             (SELECT group_concat(region) FROM staff_regions r WHERE r.staff_id = s.id) AS regions \
             FROM staff s WHERE s.token_hash = ?",
        )
        .bind(token_hash)
        .fetch_optional(&self.reader)
        .await
        .map_err(db_err)?;
        let Some(row) = row else { return Ok(None) };
        let regions: Option<String> = row.try_get("regions").map_err(db_err)?;
        let mut regions = codec::list_from_text(regions.as_deref().unwrap_or(""))
            .iter()
            .map(|r| codec::region(r))
            .collect::<StoreResult<Vec<_>>>()?;
        regions.sort();
        Ok(Some(Staff {
            id: row.try_get("id").map_err(db_err)?,
            role: codec::role(&row.try_get::<String, _>("role").map_err(db_err)?)?,
            name: row.try_get("name").map_err(db_err)?,
            regions,
            venue_id: row.try_get("venue_id").map_err(db_err)?,
            import_kinds: codec::list_from_text(&row.try_get::<String, _>("import_kinds").map_err(db_err)?),
            token_hash: row.try_get("token_hash").map_err(db_err)?,
            created_at: time(row.try_get("created_at").map_err(db_err)?)?,
            created_by: row.try_get("created_by").map_err(db_err)?,
        }))
    }

    async fn person_for_officer(
        &self,
        read: &StaffRead<'_>,
        subject_id: &SubjectId,
    ) -> StoreResult<Option<PersonRecord>> {
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let sql = format!("SELECT {PERSON_COLUMNS} FROM persons p WHERE p.subject_id = ? AND {OFFICER_SCOPE}");
        let row = sqlx::query(&sql)
            .bind(subject_id.as_str())
            .bind(read.staff_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
        let Some(row) = row else { return Ok(None) };
        let person = person_from_row(&row)?;
        insert_audit(&mut tx, &read_audit(read, "person.read", subject_id)).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Some(person))
    }

    async fn declarations_for_officer(
        &self,
        read: &StaffRead<'_>,
        subject_id: &SubjectId,
        limit: u32,
    ) -> StoreResult<Option<Vec<StoredDeclaration>>> {
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let in_scope = format!("SELECT 1 FROM persons p WHERE p.subject_id = ? AND {OFFICER_SCOPE}");
        let visible = sqlx::query(&in_scope)
            .bind(subject_id.as_str())
            .bind(read.staff_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
        if visible.is_none() {
            return Ok(None);
        }
        // In scope: the history is read in the same transaction as the check and the audit.
        let sql =
            format!("SELECT {DECLARATION_COLUMNS} FROM declarations WHERE subject_id = ? ORDER BY id DESC LIMIT ?");
        let rows = sqlx::query(&sql)
            .bind(subject_id.as_str())
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
        let list = rows.iter().map(declaration_from_row).collect::<StoreResult<Vec<_>>>()?;
        insert_audit(&mut tx, &read_audit(read, "declarations.read", subject_id)).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Some(list))
    }

    async fn stays_import(&self, rows: &[StayRecord]) -> StoreResult<ImportOutcome> {
        self.stays_import_impl(StayBatch::from_slice(rows)).await
    }

    async fn stays_import_batch(&self, batch: StayBatch) -> StoreResult<ImportOutcome> {
        self.stays_import_impl(batch).await
    }

    async fn stays_for(&self, phone_index: &[u8], since: DateTime<Utc>) -> StoreResult<Vec<StayRecord>> {
        self.stays_for_impl(phone_index, since).await
    }

    async fn subjects_with_stays(
        &self,
        region: &RegionCode,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<SubjectId>> {
        self.subjects_with_stays_impl(region, from, to).await
    }

    async fn region_risk_import(&self, rows: &[RegionRiskRecord]) -> StoreResult<ImportOutcome> {
        self.insert_new(
            "INSERT INTO region_risk (record_id, region, level, effective_from, effective_to)",
            5,
            rows,
            |q, r| {
                q.bind(&r.record_id)
                    .bind(r.region.to_string())
                    .bind(codec::risk_level_to_text(r.level))
                    .bind(micros(r.effective_from))
                    .bind(r.effective_to.map(micros))
            },
        )
        .await
    }

    async fn region_risk_set(&self, r: &RegionRiskRecord) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        sqlx::query(
            "UPDATE region_risk SET effective_to = ? \
             WHERE region = ? AND effective_to IS NULL AND effective_from < ?",
        )
        .bind(micros(r.effective_from))
        .bind(r.region.to_string())
        .bind(micros(r.effective_from))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        sqlx::query(
            "INSERT INTO region_risk (record_id, region, level, effective_from, effective_to) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&r.record_id)
        .bind(r.region.to_string())
        .bind(codec::risk_level_to_text(r.level))
        .bind(micros(r.effective_from))
        .bind(r.effective_to.map(micros))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn region_risk_all(&self) -> StoreResult<Vec<RegionRiskRecord>> {
        let rows = sqlx::query(
            "SELECT record_id, region, level, effective_from, effective_to FROM region_risk \
             ORDER BY region, effective_from, record_id",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(RegionRiskRecord {
                    record_id: r.try_get("record_id").map_err(db_err)?,
                    region: codec::region(&r.try_get::<String, _>("region").map_err(db_err)?)?,
                    level: codec::risk_level(&r.try_get::<String, _>("level").map_err(db_err)?)?,
                    effective_from: time(r.try_get("effective_from").map_err(db_err)?)?,
                    effective_to: opt_time(r.try_get("effective_to").map_err(db_err)?)?,
                })
            })
            .collect()
    }

    async fn lab_tests_import(&self, rows: &[LabTestRecord]) -> StoreResult<ImportOutcome> {
        self.insert_new("INSERT INTO lab_tests (record_id, id_index, sampled_at, result)", 4, rows, |q, r| {
            q.bind(&r.record_id).bind(&r.id_index).bind(micros(r.sampled_at)).bind(r.result.as_str())
        })
        .await
    }

    async fn lab_tests_for(&self, id_index: &[u8], since: DateTime<Utc>) -> StoreResult<Vec<LabTestRecord>> {
        let rows = sqlx::query(LAB_TESTS_OF)
            .bind(id_index)
            .bind(micros(since))
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?;
        rows.iter().map(lab_test_from_row).collect()
    }

    async fn cases_import(&self, rows: &[CaseStatusRecord]) -> StoreResult<ImportOutcome> {
        self.insert_new("INSERT INTO case_statuses (record_id, id_index, status, at)", 4, rows, |q, r| {
            q.bind(&r.record_id).bind(&r.id_index).bind(r.status.as_str()).bind(micros(r.at))
        })
        .await
    }

    async fn cases_for(&self, id_index: &[u8]) -> StoreResult<Vec<CaseStatusRecord>> {
        let rows = sqlx::query(CASES_OF).bind(id_index).fetch_all(&self.reader).await.map_err(db_err)?;
        rows.iter().map(case_from_row).collect()
    }

    async fn trips_import(&self, rows: &[TripRecord]) -> StoreResult<ImportOutcome> {
        self.insert_new(
            "INSERT INTO trips (record_id, id_index, carrier, number, date, coach, seat_row, seat)",
            8,
            rows,
            |q, r| {
                q.bind(&r.record_id)
                    .bind(&r.id_index)
                    .bind(codec::carrier_to_text(r.carrier))
                    .bind(&r.number)
                    .bind(r.date)
                    .bind(&r.coach)
                    .bind(&r.row)
                    .bind(&r.seat)
            },
        )
        .await
    }

    async fn trips_for(&self, id_index: &[u8]) -> StoreResult<Vec<TripRecord>> {
        let rows = sqlx::query(TRIPS_OF).bind(id_index).fetch_all(&self.reader).await.map_err(db_err)?;
        rows.iter().map(trip_from_row).collect()
    }

    async fn vaccinations_import(&self, rows: &[VaccinationRecord]) -> StoreResult<ImportOutcome> {
        self.insert_new("INSERT INTO vaccinations (record_id, id_index, date, dose, product)", 5, rows, |q, r| {
            q.bind(&r.record_id).bind(&r.id_index).bind(r.date).bind(i32::from(r.dose)).bind(&r.product)
        })
        .await
    }

    async fn vaccinations_for(&self, id_index: &[u8]) -> StoreResult<Vec<VaccinationRecord>> {
        let rows = sqlx::query(VACCINATIONS_OF).bind(id_index).fetch_all(&self.reader).await.map_err(db_err)?;
        rows.iter().map(vaccination_from_row).collect()
    }

    // --- decisions: `decisions.rs` ---
    async fn decision_save(&self, d: &DecisionRecord) -> StoreResult<Option<ColorChange>> {
        Ok(self.decisions_save_impl(std::slice::from_ref(d)).await?.pop().map(|(_, c)| c))
    }

    async fn decision_get(&self, subject_id: &SubjectId) -> StoreResult<Option<DecisionRecord>> {
        self.decision_get_impl(subject_id).await
    }

    async fn rule_set_keep(&self, version: &str, source: &str, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO rule_sets (version, source, kept_at) VALUES (?, ?, ?) ON CONFLICT (version) DO NOTHING",
        )
        .bind(version)
        .bind(source)
        .bind(micros(at))
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn rule_set_get(&self, version: &str) -> StoreResult<Option<String>> {
        sqlx::query_scalar("SELECT source FROM rule_sets WHERE version = ?")
            .bind(version)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)
    }

    async fn decisions_due(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<SubjectId>> {
        self.decisions_due_impl(now, limit).await
    }

    async fn decision_records_drop_before(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        self.decision_records_drop_before_impl(before).await
    }

    async fn color_history(&self, subject_id: &SubjectId, limit: u32) -> StoreResult<Vec<ColorChange>> {
        let rows = sqlx::query(
            "SELECT c.at, c.from_color, c.to_color, v.version AS rule_set_version FROM color_changes c \
             JOIN rule_set_versions v ON v.id = c.version_id WHERE c.subject_id = ? ORDER BY c.id DESC LIMIT ?",
        )
        .bind(subject_id.as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(ColorChange {
                    at: time(r.try_get("at").map_err(db_err)?)?,
                    from: r
                        .try_get::<Option<String>, _>("from_color")
                        .map_err(db_err)?
                        .as_deref()
                        .map(codec::color)
                        .transpose()?,
                    to: codec::color(&r.try_get::<String, _>("to_color").map_err(db_err)?)?,
                    rule_set_version: r.try_get("rule_set_version").map_err(db_err)?,
                })
            })
            .collect()
    }

    // --- venues and visits: `visits.rs` ---
    async fn venue_insert(&self, venue: &VenueRecord) -> StoreResult<()> {
        self.venue_insert_impl(venue).await
    }

    async fn venue_get(&self, venue_id: &healthcode_core::VenueId) -> StoreResult<Option<VenueRecord>> {
        self.venue_get_impl(venue_id).await
    }

    async fn visits_write(&self, writes: &[VisitWrite]) -> StoreResult<Vec<bool>> {
        self.visits_write_impl(writes).await
    }

    async fn visits_write_checked(&self, writes: Vec<CheckedWrite>) -> StoreResult<Vec<Written>> {
        self.visits_write_checked_impl(writes).await
    }

    async fn visit_close(
        &self,
        subject_id: &SubjectId,
        venue_id: &healthcode_core::VenueId,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.visit_close_impl(subject_id, venue_id, at).await
    }

    async fn visits_for_subject(
        &self,
        subject_id: &SubjectId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<VisitRecord>> {
        self.visits_where("subject_id", subject_id.as_str(), from, to).await
    }

    async fn visits_at_venue(
        &self,
        venue_id: &healthcode_core::VenueId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<VisitRecord>> {
        self.visits_where("venue_id", venue_id.as_str(), from, to).await
    }

    async fn scan_attempt_record(&self, attempt: &ScanAttempt) -> StoreResult<()> {
        self.scan_attempt_record_impl(attempt).await
    }

    async fn scan_attempts_at(
        &self,
        venue_id: &healthcode_core::VenueId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<ScanAttempt>> {
        self.scan_attempts_at_impl(venue_id, from, to).await
    }

    async fn visits_drop_before(&self, day: NaiveDate) -> StoreResult<u64> {
        self.visits_drop_before_impl(day).await
    }

    // --- contact tracing: `tracing.rs` ---
    async fn trace_case_insert(
        &self,
        officer: Option<&str>,
        case: &TraceCaseRecord,
        audit: &AuditEntry,
    ) -> StoreResult<bool> {
        self.trace_case_insert_impl(officer, case, audit).await
    }
    async fn trace_case_get(&self, officer: Option<&str>, case_id: &str) -> StoreResult<Option<TraceCaseRecord>> {
        self.trace_case_get_impl(officer, case_id).await
    }
    async fn trace_visits_of(&self, wanted: &[SubjectWindow]) -> StoreResult<Vec<TraceVisit>> {
        self.trace_visits_of_impl(wanted).await
    }
    async fn trace_visits_at(
        &self,
        wanted: &[VenueWindow],
        longest: chrono::TimeDelta,
    ) -> StoreResult<Vec<TraceVisit>> {
        self.trace_visits_at_impl(wanted, longest).await
    }
    async fn trace_venues(&self, ids: &[String]) -> StoreResult<Vec<TraceVenue>> {
        self.trace_venues_impl(ids).await
    }
    async fn trace_households(&self, subjects: &[SubjectId]) -> StoreResult<Vec<HouseholdMember>> {
        self.trace_households_impl(subjects).await
    }
    async fn trace_trips_of(&self, people: &[HouseholdMember]) -> StoreResult<Vec<TraceSeat>> {
        self.trace_trips_of_impl(people).await
    }
    async fn trace_trips_on(&self, vehicles: &[Vehicle]) -> StoreResult<Vec<TraceSeat>> {
        self.trace_trips_on_impl(vehicles).await
    }
    async fn exposures_save(&self, rows: &[ExposureRecord], audit: &AuditEntry) -> StoreResult<u64> {
        self.exposures_save_impl(rows, audit).await
    }
    async fn exposures_for(&self, subject_id: &SubjectId) -> StoreResult<Vec<ExposureRecord>> {
        self.exposures_for_impl(subject_id).await
    }

    async fn audit_append(&self, entry: &AuditEntry) -> StoreResult<i64> {
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let seq = insert_audit(&mut tx, entry).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(seq)
    }

    async fn audit_for_subject(&self, subject_id: &SubjectId, limit: u32) -> StoreResult<Vec<AuditRecord>> {
        let rows = sqlx::query("SELECT * FROM audit_log WHERE subject_id = ? ORDER BY seq DESC LIMIT ?")
            .bind(subject_id.as_str())
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?;
        rows.iter().map(audit_from_row).collect()
    }

    async fn audit_since(&self, after_seq: i64, limit: u32) -> StoreResult<Vec<AuditRecord>> {
        let rows = sqlx::query("SELECT * FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?")
            .bind(after_seq)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?;
        rows.iter().map(audit_from_row).collect()
    }

    async fn persons_insert_many(&self, persons: &[PersonRecord]) -> StoreResult<()> {
        self.persons_insert_many_impl(persons).await
    }

    async fn persons_keys_many(&self, subjects: &[SubjectId]) -> StoreResult<Vec<PersonKeys>> {
        self.persons_keys_many_impl(subjects).await
    }

    async fn facts_for_many(&self, persons: &[PersonKeys], since: DateTime<Utc>) -> StoreResult<Vec<FactRecords>> {
        self.facts_for_many_impl(persons, since).await
    }

    async fn decisions_colors(&self, subjects: &[SubjectId]) -> StoreResult<Vec<StoredColor>> {
        self.decisions_colors_impl(subjects).await
    }

    async fn decisions_save_many(&self, decisions: &[DecisionRecord]) -> StoreResult<Vec<(SubjectId, ColorChange)>> {
        self.decisions_save_impl(decisions).await
    }

    // --- overrides and quarantines: `overrides.rs` ---
    async fn override_propose(&self, staff_id: &str, record: &OverrideRecord, audit: &AuditEntry) -> StoreResult<bool> {
        self.override_propose_impl(staff_id, record, audit).await
    }

    async fn override_approve(
        &self,
        staff_id: &str,
        override_id: &str,
        at: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> StoreResult<Approval> {
        self.override_approve_impl(staff_id, override_id, at, audit).await
    }

    async fn overrides_for(&self, subject_id: &SubjectId) -> StoreResult<Vec<OverrideRecord>> {
        self.overrides_for_impl(subject_id).await
    }

    async fn quarantine_insert(
        &self,
        staff_id: &str,
        record: &QuarantineRecord,
        audit: &AuditEntry,
    ) -> StoreResult<bool> {
        self.quarantine_insert_impl(staff_id, record, audit).await
    }

    async fn quarantine_end(
        &self,
        staff_id: &str,
        quarantine_id: &str,
        at: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> StoreResult<Option<QuarantineRecord>> {
        self.quarantine_end_impl(staff_id, quarantine_id, at, audit).await
    }

    async fn quarantines_for(&self, subject_id: &SubjectId) -> StoreResult<Vec<QuarantineRecord>> {
        self.quarantines_for_impl(subject_id).await
    }

    async fn decisions_mark_due(&self, version: &str, at: DateTime<Utc>) -> StoreResult<u64> {
        self.decisions_mark_due_impl(version, at).await
    }

    async fn reviews_request(&self, subjects: &[SubjectId], at: DateTime<Utc>) -> StoreResult<u64> {
        self.reviews_request_impl(subjects, at).await
    }

    async fn reviews_take(&self, limit: u32) -> StoreResult<Vec<SubjectId>> {
        self.reviews_take_impl(limit).await
    }

    async fn subjects_by_indexes(
        &self,
        phone_indexes: &[Vec<u8>],
        id_indexes: &[Vec<u8>],
    ) -> StoreResult<Vec<SubjectId>> {
        self.subjects_by_indexes_impl(phone_indexes, id_indexes).await
    }
}
