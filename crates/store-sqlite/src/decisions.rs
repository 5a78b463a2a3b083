//! Stored decisions on SQLite (migrations 0012, 0017): each decision's record appended to
//! `decision_records` (packed, `healthcode_store::packed`), the person's small row in
//! `decisions` (clustered by subject id)
//! pointing at it, and a row in `color_changes` when the color changed; both name the
//! rule-set version by its number in `rule_set_versions`. One writer function
//! serves one decision and a million: the recoloring of a district passes people in subject-id
//! order, so the rows it updates are adjacent and the records it appends are sequential.

use chrono::{DateTime, Utc};
use healthcode_core::{Color, SubjectId};
use healthcode_store::codec;
use healthcode_store::*;
use sqlx::Row;

use crate::bulk::{self, Value};
use crate::columns::Columns;
use crate::{SqliteStore, db_err, micros, opt_time, time};

/// From this many decisions on, a save gets the bulk page cache (`bulk::write`, which then
/// closes the writer connection); fewer go with the writer's usual cache and connection.
const BULK_FROM: usize = 1000;

/// A decision as the writer binds it, owned (it crosses to the writer's blocking thread).
struct Owned {
    subject: SubjectId,
    color: Color,
    since: i64,
    keeps_since: bool,
    version: String,
    next: Option<i64>,
    evaluated: i64,
    /// Packed (`healthcode_store::packed`): a quarter of the JSON text's pages to write.
    record: Vec<u8>,
}

impl SqliteStore {
    pub(crate) async fn decisions_save_impl(
        &self,
        decisions: &[DecisionRecord],
    ) -> StoreResult<Vec<(SubjectId, ColorChange)>> {
        if decisions.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<Owned> = decisions
            .iter()
            .map(|d| Owned {
                subject: d.subject_id.clone(),
                color: d.color,
                since: micros(d.since),
                keeps_since: d.keeps_since,
                version: d.rule_set_version.clone(),
                next: d.next_review_at.map(micros),
                evaluated: micros(d.evaluated_at),
                record: d.record.packed().into_owned(),
            })
            .collect();
        let work = move |db: &bulk::Db| save(db, &rows);
        if decisions.len() >= BULK_FROM {
            bulk::write(&self.writer, work).await
        } else {
            bulk::write_small(&self.writer, work).await
        }
    }

    pub(crate) async fn decision_get_impl(&self, subject_id: &SubjectId) -> StoreResult<Option<DecisionRecord>> {
        let row = sqlx::query(
            // The color, start and next review are the person's row's: it is written with its
            // record, in the same transaction, and always points at it.
            // A record is packed, or JSON text when stored before records were packed (2026-12-08).
            "SELECT d.subject_id, d.color, d.since, v.version AS rule_set_version, d.next_review_at, r.evaluated_at, \
             CASE typeof(r.record) WHEN 'blob' THEN r.record END AS packed, \
             CASE typeof(r.record) WHEN 'text' THEN r.record END AS json FROM decisions d JOIN decision_records r ON r.id = d.record_id \
             JOIN rule_set_versions v ON v.id = r.version_id WHERE d.subject_id = ?",
        )
        .bind(subject_id.as_str())
        .fetch_optional(&self.reader)
        .await
        .map_err(db_err)?;
        row.map(|r| {
            Ok(DecisionRecord {
                subject_id: codec::subject(&r.try_get::<String, _>("subject_id").map_err(db_err)?)?,
                color: codec::color(&r.try_get::<String, _>("color").map_err(db_err)?)?,
                since: time(r.try_get("since").map_err(db_err)?)?,
                rule_set_version: r.try_get("rule_set_version").map_err(db_err)?,
                next_review_at: opt_time(r.try_get("next_review_at").map_err(db_err)?)?,
                evaluated_at: time(r.try_get("evaluated_at").map_err(db_err)?)?,
                record: match r.try_get::<Option<Vec<u8>>, _>("packed").map_err(db_err)? {
                    Some(packed) => DecisionJson::unpack(&packed)?,
                    None => DecisionJson::parse(r.try_get::<String, _>("json").map_err(db_err)?)?,
                },
                keeps_since: false,
            })
        })
        .transpose()
    }

    pub(crate) async fn decisions_due_impl(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<SubjectId>> {
        let rows = sqlx::query(
            "SELECT subject_id FROM decisions WHERE next_review_at IS NOT NULL AND next_review_at <= ? \
             ORDER BY next_review_at LIMIT ?",
        )
        .bind(micros(now))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        rows.iter().map(|r| codec::subject(&r.try_get::<String, _>(0).map_err(db_err)?)).collect()
    }

    pub(crate) async fn decision_records_drop_before_impl(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM decision_records WHERE evaluated_at < ?1 AND NOT EXISTS \
             (SELECT 1 FROM decisions d WHERE d.subject_id = decision_records.subject_id \
             AND d.record_id = decision_records.id)",
        )
        .bind(micros(before))
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected())
    }

    pub(crate) async fn decisions_mark_due_impl(&self, version: &str, at: DateTime<Utc>) -> StoreResult<u64> {
        // Earlier reviews stay as they are: this only brings the others forward. The version
        // is in the record (a rule change is rare; a probe per person is fine then); a version
        // never stored has no number, and then every decision is of another one.
        let done = sqlx::query(
            "UPDATE decisions SET next_review_at = ?1 WHERE (next_review_at IS NULL OR next_review_at > ?1) \
             AND (SELECT r.version_id FROM decision_records r WHERE r.id = decisions.record_id) \
             IS NOT (SELECT id FROM rule_set_versions WHERE version = ?2)",
        )
        .bind(micros(at))
        .bind(version)
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected())
    }

    pub(crate) async fn decisions_colors_impl(&self, subjects: &[SubjectId]) -> StoreResult<Vec<StoredColor>> {
        let subjects = crate::many::sorted_once(subjects);
        crate::many::read_by_subject(&self.reader, subjects, |db, part| {
            let stored = db.prepare("SELECT color, since FROM decisions WHERE subject_id = ?1")?;
            let mut out = Vec::with_capacity(part.len());
            for s in part {
                out.extend(stored.query_all(&[Value::Text(s.as_str())], |r| {
                    Ok(StoredColor { subject_id: s.clone(), color: codec::color(r.text(0)?)?, since: time(r.int(1)?)? })
                })?);
            }
            Ok(out)
        })
        .await
    }
}

/// Writes decisions in the caller's transaction: for each, the color it replaces (and since
/// when, which a decision that keeps its start takes over), the record appended, the person's
/// row pointed at it, and a color change when the color differs.
fn save(db: &bulk::Db, rows: &[Owned]) -> StoreResult<Vec<(SubjectId, ColorChange)>> {
    let previous = db.prepare("SELECT color, since FROM decisions WHERE subject_id = ?1")?;
    let mut versions = Versions::new(db)?;
    let record = db.prepare(
        "INSERT INTO decision_records (subject_id, version_id, evaluated_at, record) VALUES (?1, ?2, ?3, ?4)",
    )?;
    let person = db.prepare(
        "INSERT INTO decisions (subject_id, record_id, color, since, next_review_at) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (subject_id) DO UPDATE SET record_id = excluded.record_id, color = excluded.color, \
         since = excluded.since, next_review_at = excluded.next_review_at",
    )?;
    let change = db.prepare(
        "INSERT INTO color_changes (subject_id, at, from_color, to_color, version_id) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let mut changes = Vec::new();
    for d in rows {
        let s = d.subject.as_str();
        let stored = previous.query_all(&[Value::Text(s)], |r| Ok((codec::color(r.text(0)?)?, r.int(1)?)))?;
        let from = stored.first().map(|(color, _)| *color);
        let since = match stored.first() {
            Some((color, since)) if d.keeps_since && *color == d.color => *since,
            _ => d.since,
        };
        let version = versions.id(&d.version)?;
        record.run(&[Value::Text(s), Value::Int(version), Value::Int(d.evaluated), Value::Blob(&d.record)])?;
        let record_id = db.last_insert_rowid();
        person.run(&[
            Value::Text(s),
            Value::Int(record_id),
            Value::Text(d.color.as_str()),
            Value::Int(since),
            d.next.map_or(Value::Null, Value::Int),
        ])?;
        if from != Some(d.color) {
            change.run(&[
                Value::Text(s),
                Value::Int(d.evaluated),
                from.map_or(Value::Null, |f| Value::Text(f.as_str())),
                Value::Text(d.color.as_str()),
                Value::Int(version),
            ])?;
            let c = ColorChange { at: time(d.evaluated)?, from, to: d.color, rule_set_version: d.version.clone() };
            changes.push((d.subject.clone(), c));
        }
    }
    Ok(changes)
}

/// The numbers of rule-set versions (`rule_set_versions`, migration 0017), added if new and
/// looked up once per version per transaction: a recoloring names one version a million times.
struct Versions<'db> {
    add: bulk::Statement<'db>,
    find: bulk::Statement<'db>,
    known: Vec<(String, i64)>,
}

impl<'db> Versions<'db> {
    fn new(db: &'db bulk::Db) -> StoreResult<Self> {
        Ok(Self {
            add: db.prepare("INSERT INTO rule_set_versions (version) VALUES (?1) ON CONFLICT (version) DO NOTHING")?,
            find: db.prepare("SELECT id FROM rule_set_versions WHERE version = ?1")?,
            known: Vec::new(),
        })
    }

    fn id(&mut self, version: &str) -> StoreResult<i64> {
        if let Some((_, id)) = self.known.iter().find(|(v, _)| v == version) {
            return Ok(*id);
        }
        self.add.run(&[Value::Text(version)])?;
        let found = self.find.query_all(&[Value::Text(version)], |r| r.int(0))?;
        let id = *found.first().ok_or_else(|| StoreError::Backend("rule-set version not numbered".into()))?;
        self.known.push((version.to_string(), id));
        Ok(id)
    }
}
