//! The PostgreSQL backend: for a city or province, with many server processes on one database.
//!
//! It behaves exactly like the SQLite backend (the conformance suite checks that); what
//! differs is how concurrency is made safe. SQLite serialises every write through one
//! connection; here writers run concurrently, so each read-modify-write locks what it reads:
//! - the OTP state of a phone is read `FOR UPDATE` (with a retry for the first-insert race);
//! - a declaration first updates its person's row, which serialises submissions per person;
//! - audit appends take one advisory lock, so that `seq` order is commit order and a reader of
//!   `audit_since` never skips a record that commits late;
//! - an officer's scope check and history read share one snapshot (`REPEATABLE READ`).
//!
//! Errors are reported with the database's message only: PostgreSQL puts row values in the
//! error *detail*, which sqlx does not include in its `Display`, so no personal data (sealed
//! as it is) reaches logs through `StoreError`.

use std::str::FromStr;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use healthcode_core::otp::{OtpPolicy, OtpState};
use healthcode_core::{Declaration, RegionCode, SubjectId, Temperature};
use healthcode_store::codec;
use healthcode_store::*;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Row, Transaction};

mod many;
mod migrate;
mod overrides;
mod reviews;
pub mod testing;
mod tracing;
mod visits;

/// The schema version this binary migrates to.
pub const SCHEMA_VERSION: i64 = migrate::LATEST;

/// Connections per process. A handful of busy connections saturate a PostgreSQL server long
/// before hundreds of idle ones help; several server processes share its `max_connections`.
const MAX_CONNECTIONS: u32 = 16;
/// How long a request waits for a free connection before failing instead of queueing forever.
const ACQUIRE_TIMEOUT: StdDuration = StdDuration::from_secs(10);

/// Key of the advisory lock every audit append takes ("hcaudit\0" in ASCII).
const AUDIT_LOCK: i64 = 0x6863_6175_6469_7400;

pub struct PostgresStore {
    pool: PgPool,
}

fn db_err(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        // PostgreSQL names the violated index or constraint; the migration names them.
        let which = match db.constraint() {
            Some("persons_id_index") => Some(Unique::IdNumber),
            Some("persons_phone_index") => Some(Unique::Phone),
            Some("staff_token_hash") => Some(Unique::StaffToken),
            Some("staff_pkey") => Some(Unique::StaffId),
            _ => None,
        };
        if let Some(which) = which {
            return StoreError::Duplicate(which);
        }
    }
    StoreError::Backend(e.to_string())
}

const PERSON_COLUMNS: &str = "p.subject_id, p.id_index, p.id_number_sealed, p.name_sealed, p.masked_name, \
     p.phone_index, p.phone_sealed, p.household_region, p.current_region, p.guardian_subject_id, \
     p.guardian_relation, p.created_at";

fn person_from_row(row: &PgRow) -> StoreResult<PersonRecord> {
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
        created_at: row.try_get("created_at").map_err(db_err)?,
    })
}

const DECLARATION_COLUMNS: &str = "id, subject_id, day, temperature_tenths, symptoms, contact_with_suspected_case, \
     current_region, declared_by, declared_at, superseded_at";

fn declaration_from_row(row: &PgRow) -> StoreResult<StoredDeclaration> {
    let get_s = |c: &str| row.try_get::<String, _>(c).map_err(db_err);
    Ok(StoredDeclaration {
        id: row.try_get("id").map_err(db_err)?,
        declaration: Declaration {
            subject_id: codec::subject(&get_s("subject_id")?)?,
            day: row.try_get::<NaiveDate, _>("day").map_err(db_err)?,
            temperature: Temperature::from_tenths(row.try_get("temperature_tenths").map_err(db_err)?),
            symptoms: codec::symptoms_from_text(&get_s("symptoms")?)?,
            contact_with_suspected_case: row.try_get("contact_with_suspected_case").map_err(db_err)?,
            current_region: codec::region(&get_s("current_region")?)?,
            declared_by: codec::subject(&get_s("declared_by")?)?,
            declared_at: row.try_get("declared_at").map_err(db_err)?,
        },
        superseded_at: row.try_get("superseded_at").map_err(db_err)?,
    })
}

/// `detail` is JSONB in the table but travels as text: sqlx's `json` feature is not enabled
/// in the workspace, and the text form round-trips through `serde_json` exactly.
const AUDIT_COLUMNS: &str =
    "seq, at, actor_kind, actor_id, actor_role, action, subject_id, purpose, detail::text AS detail";

fn audit_from_row(row: &PgRow) -> StoreResult<AuditRecord> {
    let detail: String = row.try_get("detail").map_err(db_err)?;
    Ok(AuditRecord {
        seq: row.try_get("seq").map_err(db_err)?,
        entry: AuditEntry {
            at: row.try_get("at").map_err(db_err)?,
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

/// Appends an audit record inside `tx`. Must be the transaction's last statement.
///
/// An identity column hands out numbers in call order, but transactions commit in any order:
/// without the lock, a reader could see seq 8 while 7 is still uncommitted, move its
/// `audit_since` cursor past 7 and never see it. Holding one advisory lock from taking the
/// number until commit makes sequence order commit order, as SQLite's single writer does. The
/// lock is held only for the insert and the commit, because nothing follows the insert; keep
/// it that way, or audit appends queue behind unrelated work (and could deadlock).
async fn insert_audit(tx: &mut Transaction<'_, Postgres>, e: &AuditEntry) -> StoreResult<i64> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(AUDIT_LOCK).execute(&mut **tx).await.map_err(db_err)?;
    let row = sqlx::query(
        "INSERT INTO audit_log (at, actor_kind, actor_id, actor_role, action, subject_id, purpose, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb) RETURNING seq",
    )
    .bind(e.at)
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

/// `EXISTS` clause: the staff member `$2` is an officer with a region covering person `p`.
/// Region codes are digits only, so the stored patterns contain no stray LIKE wildcards.
const OFFICER_SCOPE: &str = "EXISTS (SELECT 1 FROM staff s JOIN staff_regions r ON r.staff_id = s.id \
     WHERE s.id = $2 AND s.role = 'officer' \
     AND (p.household_region LIKE r.pattern OR p.current_region LIKE r.pattern))";

#[derive(Clone, Copy)]
enum PersonKey<'a> {
    Subject(&'a SubjectId),
    Phone(&'a [u8]),
    IdIndex(&'a [u8]),
}

fn stay_from_row(r: &PgRow) -> StoreResult<StayRecord> {
    Ok(StayRecord {
        record_id: r.try_get("record_id").map_err(db_err)?,
        phone_index: r.try_get("phone_index").map_err(db_err)?,
        region: codec::region(&r.try_get::<String, _>("region").map_err(db_err)?)?,
        start: r.try_get("start_at").map_err(db_err)?,
        end: r.try_get("end_at").map_err(db_err)?,
    })
}

fn lab_test_from_row(r: &PgRow) -> StoreResult<LabTestRecord> {
    Ok(LabTestRecord {
        record_id: r.try_get("record_id").map_err(db_err)?,
        id_index: r.try_get("id_index").map_err(db_err)?,
        sampled_at: r.try_get("sampled_at").map_err(db_err)?,
        result: codec::test_result(&r.try_get::<String, _>("result").map_err(db_err)?)?,
    })
}

fn case_from_row(r: &PgRow) -> StoreResult<CaseStatusRecord> {
    Ok(CaseStatusRecord {
        record_id: r.try_get("record_id").map_err(db_err)?,
        id_index: r.try_get("id_index").map_err(db_err)?,
        status: codec::case_status(&r.try_get::<String, _>("status").map_err(db_err)?)?,
        at: r.try_get("at").map_err(db_err)?,
    })
}

fn trip_from_row(r: &PgRow) -> StoreResult<TripRecord> {
    Ok(TripRecord {
        record_id: r.try_get("record_id").map_err(db_err)?,
        id_index: r.try_get("id_index").map_err(db_err)?,
        carrier: codec::carrier(&r.try_get::<String, _>("carrier").map_err(db_err)?)?,
        number: r.try_get("number").map_err(db_err)?,
        date: r.try_get("date").map_err(db_err)?,
        coach: r.try_get("coach").map_err(db_err)?,
        row: r.try_get("seat_row").map_err(db_err)?,
        seat: r.try_get("seat").map_err(db_err)?,
    })
}

fn vaccination_from_row(r: &PgRow) -> StoreResult<VaccinationRecord> {
    let dose: i32 = r.try_get("dose").map_err(db_err)?;
    Ok(VaccinationRecord {
        record_id: r.try_get("record_id").map_err(db_err)?,
        id_index: r.try_get("id_index").map_err(db_err)?,
        date: r.try_get("date").map_err(db_err)?,
        dose: u8::try_from(dose).map_err(|_| StoreError::Corrupt(format!("dose {dose}")))?,
        product: r.try_get("product").map_err(db_err)?,
    })
}

/// Stores a decision in `tx`, with its color change when the color differs from the stored
/// one, and the stored start when it keeps it (`decision_save`, `decisions_save_many`).
async fn save_decision(tx: &mut Transaction<'_, Postgres>, d: &DecisionRecord) -> StoreResult<Option<ColorChange>> {
    let previous: Option<(String, DateTime<Utc>)> =
        sqlx::query("SELECT color, since FROM decisions WHERE subject_id = $1 FOR UPDATE")
            .bind(d.subject_id.as_str())
            .fetch_optional(&mut **tx)
            .await
            .map_err(db_err)?
            .map(|r| Ok::<_, sqlx::Error>((r.try_get(0)?, r.try_get(1)?)))
            .transpose()
            .map_err(db_err)?;
    let from = previous.as_ref().map(|(color, _)| codec::color(color)).transpose()?;
    let since = match previous {
        Some((_, since)) if d.keeps_since && from == Some(d.color) => since,
        _ => d.since,
    };
    sqlx::query(
        "INSERT INTO decisions (subject_id, color, since, rule_set_version, next_review_at, evaluated_at, record) \
         VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb) ON CONFLICT (subject_id) DO UPDATE SET \
         color = excluded.color, since = excluded.since, rule_set_version = excluded.rule_set_version, \
         next_review_at = excluded.next_review_at, evaluated_at = excluded.evaluated_at, record = excluded.record",
    )
    .bind(d.subject_id.as_str())
    .bind(d.color.as_str())
    .bind(since)
    .bind(&d.rule_set_version)
    .bind(d.next_review_at)
    .bind(d.evaluated_at)
    .bind(d.record.json().as_ref())
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    let change = (from != Some(d.color)).then(|| ColorChange {
        at: d.evaluated_at,
        from,
        to: d.color,
        rule_set_version: d.rule_set_version.clone(),
    });
    if let Some(c) = &change {
        sqlx::query(
            "INSERT INTO color_changes (subject_id, at, from_color, to_color, rule_set_version) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(d.subject_id.as_str())
        .bind(c.at)
        .bind(c.from.map(|f| f.as_str()))
        .bind(c.to.as_str())
        .bind(&c.rule_set_version)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    }
    Ok(change)
}

type PgQuery<'q> = sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>;

/// The insert of one identity row (`person_insert`, `persons_insert_many`).
fn person_insert_query(p: &PersonRecord) -> PgQuery<'_> {
    sqlx::query(
        "INSERT INTO persons (subject_id, id_index, id_number_sealed, name_sealed, masked_name, phone_index, \
         phone_sealed, household_region, current_region, guardian_subject_id, guardian_relation, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
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
    .bind(p.created_at)
}

fn person_insert_err(e: sqlx::Error) -> StoreError {
    match e {
        // The only foreign key of `persons` is the guardian.
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
        e => db_err(e),
    }
}

fn otp_state_from_row(r: &PgRow) -> StoreResult<OtpState> {
    let failures: i32 = r.try_get("failures").map_err(db_err)?;
    Ok(OtpState {
        code_hash: r.try_get("code_hash").map_err(db_err)?,
        expires_at: r.try_get("expires_at").map_err(db_err)?,
        sent_at: r.try_get("sent_at").map_err(db_err)?,
        failures: u32::try_from(failures).map_err(|_| StoreError::Corrupt(format!("otp failures {failures}")))?,
        locked_until: r.try_get("locked_until").map_err(db_err)?,
    })
}

/// The failure count as stored; it never exceeds the policy's small maximum in practice.
fn failures_column(failures: u32) -> i32 {
    i32::try_from(failures).unwrap_or(i32::MAX)
}

impl PostgresStore {
    /// Connects to a `postgres://` URL and applies migrations.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let mut options = PgConnectOptions::from_str(url).map_err(db_err)?;
        // Named in `pg_stat_activity`, unless the URL chose a name.
        if options.get_application_name().is_none() {
            options = options.application_name("healthcode");
        }
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // Idle connections are closed after a while, so a quiet server gives its share of the
            // database's connection limit back to busy ones.
            .idle_timeout(StdDuration::from_secs(600))
            .connect_with(options)
            .await
            .map_err(db_err)?;
        migrate::run(&pool).await?;
        Ok(Self { pool })
    }

    async fn person_where(&self, key: PersonKey<'_>) -> StoreResult<Option<PersonRecord>> {
        let key_column = match key {
            PersonKey::Subject(_) => "p.subject_id",
            PersonKey::Phone(_) => "p.phone_index",
            PersonKey::IdIndex(_) => "p.id_index",
        };
        let sql = format!("SELECT {PERSON_COLUMNS} FROM persons p WHERE {key_column} = $1");
        let q = sqlx::query(&sql);
        let q = match key {
            PersonKey::Subject(s) => q.bind(s.as_str()),
            PersonKey::Phone(p) | PersonKey::IdIndex(p) => q.bind(p),
        };
        let row = q.fetch_optional(&self.pool).await.map_err(db_err)?;
        row.as_ref().map(person_from_row).transpose()
    }
}

type Insert<'q> = sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>;

impl PostgresStore {
    /// Inserts rows in multi-row statements in one transaction, leaving record ids already
    /// stored as they are; `head` is `INSERT INTO table (columns…)`.
    async fn insert_new<T: Sync>(
        &self,
        head: &str,
        columns: usize,
        rows: &[T],
        bind: for<'q> fn(Insert<'q>, &'q T) -> Insert<'q>,
    ) -> StoreResult<ImportOutcome> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let mut accepted = 0;
        for chunk in rows.chunks(codec::INSERT_CHUNK) {
            let sql = format!(
                "{head} VALUES {} ON CONFLICT (record_id) DO NOTHING",
                codec::placeholders(chunk.len(), columns, true)
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
impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(db_err)?;
        Ok(())
    }

    async fn otp_apply(
        &self,
        phone_index: &[u8],
        transition: OtpTransition,
        now: DateTime<Utc>,
        policy: &OtpPolicy,
    ) -> StoreResult<OtpResult> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        // Each pass reads the state under a row lock, applies the rules and saves. A phone's
        // first state has no row to lock: then two requests may both see "no state" and try to
        // insert. `ON CONFLICT DO NOTHING` lets exactly one win (the other waits for it to
        // commit); the loser reads again, now finding the row and locking it, and applies its
        // transition to the winner's state. Rows are never deleted, so the second pass always
        // finds one; the bound only turns a broken invariant into an error instead of a spin.
        for _ in 0..3 {
            let row = sqlx::query(
                "SELECT code_hash, expires_at, sent_at, failures, locked_until FROM otp_states \
                 WHERE phone_index = $1 FOR UPDATE",
            )
            .bind(phone_index)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
            let prev = row.as_ref().map(otp_state_from_row).transpose()?;
            let (result, next) = healthcode_store::otp::apply(prev.as_ref(), transition.clone(), now, policy);
            let Some(s) = next else {
                tx.commit().await.map_err(db_err)?;
                return Ok(result);
            };
            let saved = if prev.is_some() {
                sqlx::query(
                    "UPDATE otp_states SET code_hash = $2, expires_at = $3, sent_at = $4, failures = $5, \
                     locked_until = $6 WHERE phone_index = $1",
                )
            } else {
                sqlx::query(
                    "INSERT INTO otp_states (phone_index, code_hash, expires_at, sent_at, failures, locked_until) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (phone_index) DO NOTHING",
                )
            }
            .bind(phone_index)
            .bind(s.code_hash)
            .bind(s.expires_at)
            .bind(s.sent_at)
            .bind(failures_column(s.failures))
            .bind(s.locked_until)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
            if saved == 1 {
                tx.commit().await.map_err(db_err)?;
                return Ok(result);
            }
            // Lost the first-insert race: read the winner's state and apply again.
        }
        Err(StoreError::Backend("otp state: the phone's row could not be locked".into()))
    }

    async fn session_create(&self, s: &Session) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        // Expired sessions are swept as new ones arrive, so the table stays small.
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(s.created_at)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx::query("INSERT INTO sessions (token_hash, phone_index, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(&s.token_hash)
            .bind(&s.phone_index)
            .bind(s.created_at)
            .bind(s.expires_at)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn session_get(&self, token_hash: &[u8], now: DateTime<Utc>) -> StoreResult<Option<Session>> {
        let row = sqlx::query(
            "SELECT token_hash, phone_index, created_at, expires_at FROM sessions WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(|r| {
            Ok(Session {
                token_hash: r.try_get("token_hash").map_err(db_err)?,
                phone_index: r.try_get("phone_index").map_err(db_err)?,
                created_at: r.try_get("created_at").map_err(db_err)?,
                expires_at: r.try_get("expires_at").map_err(db_err)?,
            })
        })
        .transpose()
    }

    async fn session_delete(&self, token_hash: &[u8]) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn person_insert(&self, p: &PersonRecord) -> StoreResult<()> {
        // One statement: it either inserts the row or fails on a constraint, writing nothing.
        person_insert_query(p).execute(&self.pool).await.map_err(person_insert_err)?;
        Ok(())
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
            "SELECT {PERSON_COLUMNS} FROM persons p WHERE p.guardian_subject_id = $1 ORDER BY p.created_at, p.subject_id"
        );
        let rows = sqlx::query(&sql).bind(guardian.as_str()).fetch_all(&self.pool).await.map_err(db_err)?;
        rows.iter().map(person_from_row).collect()
    }

    async fn declaration_submit(&self, d: &Declaration) -> StoreResult<DeclarationReceipt> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        // Updating the person first locks their row until commit: two submissions for one
        // person run one after the other, and the second (its next statement seeing the first's
        // commit under READ COMMITTED) supersedes the first's declaration instead of colliding
        // with it on `declarations_in_force`.
        let updated = sqlx::query("UPDATE persons SET current_region = $1 WHERE subject_id = $2")
            .bind(d.current_region.to_string())
            .bind(d.subject_id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        let replaced = sqlx::query(
            "UPDATE declarations SET superseded_at = $1 WHERE subject_id = $2 AND day = $3 AND superseded_at IS NULL",
        )
        .bind(d.declared_at)
        .bind(d.subject_id.as_str())
        .bind(d.day)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected()
            > 0;
        let row = sqlx::query(
            "INSERT INTO declarations (subject_id, day, temperature_tenths, symptoms, contact_with_suspected_case, \
             current_region, declared_by, declared_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(d.subject_id.as_str())
        .bind(d.day)
        .bind(d.temperature.tenths())
        .bind(codec::symptoms_to_text(&d.symptoms))
        .bind(d.contact_with_suspected_case)
        .bind(d.current_region.to_string())
        .bind(d.declared_by.as_str())
        .bind(d.declared_at)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        let id = row.try_get(0).map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(DeclarationReceipt { id, replaced })
    }

    async fn declarations(&self, subject_id: &SubjectId, limit: u32) -> StoreResult<Vec<StoredDeclaration>> {
        let sql =
            format!("SELECT {DECLARATION_COLUMNS} FROM declarations WHERE subject_id = $1 ORDER BY id DESC LIMIT $2");
        let rows = sqlx::query(&sql)
            .bind(subject_id.as_str())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(declaration_from_row).collect()
    }

    async fn declarations_drop_before(&self, day: NaiveDate) -> StoreResult<u64> {
        let gone = sqlx::query("DELETE FROM declarations WHERE day < $1")
            .bind(day)
            .execute(&self.pool)
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
            "SELECT {DECLARATION_COLUMNS} FROM declarations WHERE subject_id = $1 AND day = $2 AND superseded_at IS NULL"
        );
        let row =
            sqlx::query(&sql).bind(subject_id.as_str()).bind(day).fetch_optional(&self.pool).await.map_err(db_err)?;
        row.as_ref().map(declaration_from_row).transpose()
    }

    async fn staff_insert(&self, s: &Staff, audit: &AuditEntry) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query(
            "INSERT INTO staff (id, role, name, venue_id, import_kinds, token_hash, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&s.id)
        .bind(s.role.as_str())
        .bind(&s.name)
        .bind(&s.venue_id)
        .bind(codec::list_to_text(&s.import_kinds))
        .bind(&s.token_hash)
        .bind(s.created_at)
        .bind(&s.created_by)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        for r in &s.regions {
            sqlx::query("INSERT INTO staff_regions (staff_id, region, pattern) VALUES ($1, $2, $3)")
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
        // `array_agg` over no rows is NULL, hence the `Option`.
        let row = sqlx::query(
            "SELECT s.id, s.role, s.name, s.venue_id, s.import_kinds, s.token_hash, s.created_at, s.created_by, \
             (SELECT array_agg(r.region ORDER BY r.region) FROM staff_regions r WHERE r.staff_id = s.id) AS regions \
             FROM staff s WHERE s.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        let Some(row) = row else { return Ok(None) };
        let regions: Option<Vec<String>> = row.try_get("regions").map_err(db_err)?;
        // Sorted as region codes, not as the database's collation orders text.
        let mut regions =
            regions.unwrap_or_default().iter().map(|r| codec::region(r)).collect::<StoreResult<Vec<_>>>()?;
        regions.sort();
        Ok(Some(Staff {
            id: row.try_get("id").map_err(db_err)?,
            role: codec::role(&row.try_get::<String, _>("role").map_err(db_err)?)?,
            name: row.try_get("name").map_err(db_err)?,
            regions,
            venue_id: row.try_get("venue_id").map_err(db_err)?,
            import_kinds: codec::list_from_text(&row.try_get::<String, _>("import_kinds").map_err(db_err)?),
            token_hash: row.try_get("token_hash").map_err(db_err)?,
            created_at: row.try_get("created_at").map_err(db_err)?,
            created_by: row.try_get("created_by").map_err(db_err)?,
        }))
    }

    async fn person_for_officer(
        &self,
        read: &StaffRead<'_>,
        subject_id: &SubjectId,
    ) -> StoreResult<Option<PersonRecord>> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        // Scope and read are one statement, so they cannot disagree.
        let sql = format!("SELECT {PERSON_COLUMNS} FROM persons p WHERE p.subject_id = $1 AND {OFFICER_SCOPE}");
        let row = sqlx::query(&sql)
            .bind(subject_id.as_str())
            .bind(read.staff_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
        // Out of scope: the transaction is dropped (rolled back) and nothing is audited.
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
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        // Under READ COMMITTED each statement takes a new snapshot, so a declaration moving the
        // person out of scope could commit between the check and the read. One snapshot for the
        // whole transaction makes the history exactly what the check allowed.
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ").execute(&mut *tx).await.map_err(db_err)?;
        let in_scope = format!("SELECT 1 FROM persons p WHERE p.subject_id = $1 AND {OFFICER_SCOPE}");
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
            format!("SELECT {DECLARATION_COLUMNS} FROM declarations WHERE subject_id = $1 ORDER BY id DESC LIMIT $2");
        let rows = sqlx::query(&sql)
            .bind(subject_id.as_str())
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
        let list = rows.iter().map(declaration_from_row).collect::<StoreResult<Vec<_>>>()?;
        // An insert of a new row cannot hit a serialization failure under REPEATABLE READ.
        insert_audit(&mut tx, &read_audit(read, "declarations.read", subject_id)).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Some(list))
    }

    async fn stays_import(&self, rows: &[StayRecord]) -> StoreResult<ImportOutcome> {
        self.insert_new(
            "INSERT INTO telecom_stays (record_id, phone_index, region, start_at, end_at)",
            5,
            rows,
            |q, r| q.bind(&r.record_id).bind(&r.phone_index).bind(r.region.to_string()).bind(r.start).bind(r.end),
        )
        .await
    }

    async fn stays_for(&self, phone_index: &[u8], since: DateTime<Utc>) -> StoreResult<Vec<StayRecord>> {
        let rows = sqlx::query(
            "SELECT record_id, phone_index, region, start_at, end_at FROM telecom_stays \
             WHERE phone_index = $1 AND end_at >= $2 ORDER BY start_at, record_id",
        )
        .bind(phone_index)
        .bind(since)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(stay_from_row).collect()
    }

    async fn subjects_with_stays(
        &self,
        region: &RegionCode,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<SubjectId>> {
        let rows = sqlx::query(
            "SELECT DISTINCT p.subject_id FROM telecom_stays s JOIN persons p ON p.phone_index = s.phone_index \
             WHERE s.region LIKE $1 AND s.end_at >= $2 AND s.start_at < $3 ORDER BY p.subject_id",
        )
        .bind(codec::region_pattern(region))
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(|r| codec::subject(&r.try_get::<String, _>(0).map_err(db_err)?)).collect()
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
                    .bind(r.effective_from)
                    .bind(r.effective_to)
            },
        )
        .await
    }

    async fn region_risk_set(&self, r: &RegionRiskRecord) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query(
            "UPDATE region_risk SET effective_to = $1 \
             WHERE region = $2 AND effective_to IS NULL AND effective_from < $3",
        )
        .bind(r.effective_from)
        .bind(r.region.to_string())
        .bind(r.effective_from)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        sqlx::query(
            "INSERT INTO region_risk (record_id, region, level, effective_from, effective_to) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&r.record_id)
        .bind(r.region.to_string())
        .bind(codec::risk_level_to_text(r.level))
        .bind(r.effective_from)
        .bind(r.effective_to)
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
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(RegionRiskRecord {
                    record_id: r.try_get("record_id").map_err(db_err)?,
                    region: codec::region(&r.try_get::<String, _>("region").map_err(db_err)?)?,
                    level: codec::risk_level(&r.try_get::<String, _>("level").map_err(db_err)?)?,
                    effective_from: r.try_get("effective_from").map_err(db_err)?,
                    effective_to: r.try_get("effective_to").map_err(db_err)?,
                })
            })
            .collect()
    }

    async fn lab_tests_import(&self, rows: &[LabTestRecord]) -> StoreResult<ImportOutcome> {
        self.insert_new("INSERT INTO lab_tests (record_id, id_index, sampled_at, result)", 4, rows, |q, r| {
            q.bind(&r.record_id).bind(&r.id_index).bind(r.sampled_at).bind(r.result.as_str())
        })
        .await
    }

    async fn lab_tests_for(&self, id_index: &[u8], since: DateTime<Utc>) -> StoreResult<Vec<LabTestRecord>> {
        let rows = sqlx::query(
            "SELECT record_id, id_index, sampled_at, result FROM lab_tests \
             WHERE id_index = $1 AND sampled_at >= $2 ORDER BY sampled_at, record_id",
        )
        .bind(id_index)
        .bind(since)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(lab_test_from_row).collect()
    }

    async fn cases_import(&self, rows: &[CaseStatusRecord]) -> StoreResult<ImportOutcome> {
        self.insert_new("INSERT INTO case_statuses (record_id, id_index, status, at)", 4, rows, |q, r| {
            q.bind(&r.record_id).bind(&r.id_index).bind(r.status.as_str()).bind(r.at)
        })
        .await
    }

    async fn cases_for(&self, id_index: &[u8]) -> StoreResult<Vec<CaseStatusRecord>> {
        let rows = sqlx::query(
            "SELECT record_id, id_index, status, at FROM case_statuses WHERE id_index = $1 ORDER BY at, record_id",
        )
        .bind(id_index)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
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
        let rows = sqlx::query(
            "SELECT record_id, id_index, carrier, number, date, coach, seat_row, seat FROM trips \
             WHERE id_index = $1 ORDER BY date, record_id",
        )
        .bind(id_index)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(trip_from_row).collect()
    }

    async fn vaccinations_import(&self, rows: &[VaccinationRecord]) -> StoreResult<ImportOutcome> {
        self.insert_new("INSERT INTO vaccinations (record_id, id_index, date, dose, product)", 5, rows, |q, r| {
            q.bind(&r.record_id).bind(&r.id_index).bind(r.date).bind(i32::from(r.dose)).bind(&r.product)
        })
        .await
    }

    async fn vaccinations_for(&self, id_index: &[u8]) -> StoreResult<Vec<VaccinationRecord>> {
        let rows = sqlx::query(
            "SELECT record_id, id_index, date, dose, product FROM vaccinations WHERE id_index = $1 \
             ORDER BY date, record_id",
        )
        .bind(id_index)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(vaccination_from_row).collect()
    }

    async fn decision_save(&self, d: &DecisionRecord) -> StoreResult<Option<ColorChange>> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let change = save_decision(&mut tx, d).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(change)
    }

    async fn decision_get(&self, subject_id: &SubjectId) -> StoreResult<Option<DecisionRecord>> {
        let row = sqlx::query(
            "SELECT subject_id, color, since, rule_set_version, next_review_at, evaluated_at, record \
             FROM decisions WHERE subject_id = $1",
        )
        .bind(subject_id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(|r| {
            Ok(DecisionRecord {
                subject_id: codec::subject(&r.try_get::<String, _>("subject_id").map_err(db_err)?)?,
                color: codec::color(&r.try_get::<String, _>("color").map_err(db_err)?)?,
                since: r.try_get("since").map_err(db_err)?,
                rule_set_version: r.try_get("rule_set_version").map_err(db_err)?,
                next_review_at: r.try_get("next_review_at").map_err(db_err)?,
                evaluated_at: r.try_get("evaluated_at").map_err(db_err)?,
                record: DecisionJson::from(r.try_get::<serde_json::Value, _>("record").map_err(db_err)?),
                keeps_since: false,
            })
        })
        .transpose()
    }

    async fn decisions_due(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<SubjectId>> {
        let rows = sqlx::query(
            "SELECT subject_id FROM decisions WHERE next_review_at IS NOT NULL AND next_review_at <= $1 \
             ORDER BY next_review_at LIMIT $2",
        )
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(|r| codec::subject(&r.try_get::<String, _>(0).map_err(db_err)?)).collect()
    }

    async fn rule_set_keep(&self, version: &str, source: &str, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO rule_sets (version, source, kept_at) VALUES ($1, $2, $3) ON CONFLICT (version) DO NOTHING",
        )
        .bind(version)
        .bind(source)
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn rule_set_get(&self, version: &str) -> StoreResult<Option<String>> {
        sqlx::query_scalar("SELECT source FROM rule_sets WHERE version = $1")
            .bind(version)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)
    }

    async fn color_history(&self, subject_id: &SubjectId, limit: u32) -> StoreResult<Vec<ColorChange>> {
        let rows = sqlx::query(
            "SELECT at, from_color, to_color, rule_set_version FROM color_changes WHERE subject_id = $1 \
             ORDER BY id DESC LIMIT $2",
        )
        .bind(subject_id.as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(ColorChange {
                    at: r.try_get("at").map_err(db_err)?,
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

    async fn decision_records_drop_before(&self, _before: DateTime<Utc>) -> StoreResult<u64> {
        // The record lives in the person's decision row, replaced by the next one.
        Ok(0)
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
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let seq = insert_audit(&mut tx, entry).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(seq)
    }

    async fn audit_for_subject(&self, subject_id: &SubjectId, limit: u32) -> StoreResult<Vec<AuditRecord>> {
        let sql = format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE subject_id = $1 ORDER BY seq DESC LIMIT $2");
        let rows = sqlx::query(&sql)
            .bind(subject_id.as_str())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(audit_from_row).collect()
    }

    async fn audit_since(&self, after_seq: i64, limit: u32) -> StoreResult<Vec<AuditRecord>> {
        let sql = format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2");
        let rows =
            sqlx::query(&sql).bind(after_seq).bind(i64::from(limit)).fetch_all(&self.pool).await.map_err(db_err)?;
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
        self.decisions_save_many_impl(decisions).await
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
        // Earlier reviews stay as they are: this only brings the others forward.
        let done = sqlx::query(
            "UPDATE decisions SET next_review_at = $1 WHERE rule_set_version <> $2 AND (next_review_at IS NULL OR next_review_at > $1)",
        )
        .bind(at)
            .bind(version)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected())
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
