//! Recoloring (R8, R9): decisions are stored with a history of color changes, each change is
//! announced as an event, and a scheduler re-evaluates people when their next review is due,
//! so colors return to green on time with no request.
//!
//! What triggers a re-evaluation: a declaration (that person), an import or a region risk
//! level (the people it touches, in the background), and the review time of each decision.
//! Many people at once (a region turning high-risk) take the set-based path, `recolor_many`.
//! Codes and status pages still evaluate live, so they are right even between events.

use std::collections::{BTreeSet, HashSet};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use healthcode_core::rules::{Decision, RegionRisk};
use healthcode_core::{Color, RegionCode, SubjectId};
use healthcode_store::{ColorChange, DecisionRecord, FactRecords, PersonKeys};
use serde::Serialize;

use crate::error::ApiResult;
use crate::state::AppState;

/// A color change, as published to subscribers (checkpoint caches, notifications; NATS later).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColorEvent {
    pub subject_id: SubjectId,
    pub from: Option<Color>,
    pub to: Color,
    pub at: DateTime<Utc>,
    pub rule_set_version: String,
}

/// Re-evaluates one person and stores the decision; returns the change, if the color changed.
pub async fn recolor(app: &AppState, subject: &SubjectId) -> ApiResult<Option<ColorChange>> {
    let Some(person) = app.store.person_get(subject).await? else { return Ok(None) };
    // Stored without texts; `rules_in_force::explain` gives them back.
    let rules = app.rules.current_kept(app.store.as_ref(), app.clock.now()).await?;
    let decision = crate::risk::decide_unexplained(app, &person, &rules).await?;
    let record = decision_record(subject, &decision);
    let change = app.store.decision_save(&record).await?;
    if let Some(c) = &change {
        tracing::info!(subject_id = %subject, from = ?c.from, to = ?c.to, "color changed");
        announce(app, subject, c);
    }
    Ok(change)
}

/// The decision as stored. A green without a reason has no start of its own: it counts from
/// the last change, which the store's writer takes over when the stored color is the same
/// (`keeps_since`), and from now when it is not.
fn decision_record(subject: &SubjectId, decision: &Decision) -> DecisionRecord {
    DecisionRecord {
        subject_id: subject.clone(),
        color: decision.color,
        since: decision.since.unwrap_or(decision.evaluated_at),
        keeps_since: decision.since.is_none(),
        rule_set_version: decision.rule_set_version.clone(),
        next_review_at: decision.next_review_at,
        evaluated_at: decision.evaluated_at,
        record: healthcode_store::DecisionJson::of(decision),
    }
}

/// Counts and publishes a stored color change (the set-based path logs one line per round,
/// not a line per person).
fn announce(app: &AppState, subject: &SubjectId, c: &ColorChange) {
    app.metrics.color_changes.inc();
    // Nobody listening is fine: the change is stored either way.
    let _ = app.events.send(ColorEvent {
        subject_id: subject.clone(),
        from: c.from,
        to: c.to,
        at: c.at,
        rule_set_version: c.rule_set_version.clone(),
    });
}

/// Re-evaluates many people; errors are logged per person and do not stop the rest.
pub async fn recolor_all(app: &AppState, subjects: impl IntoIterator<Item = SubjectId>) -> usize {
    let mut changed = 0;
    for s in subjects {
        match recolor(app, &s).await {
            Ok(Some(_)) => changed += 1,
            Ok(None) => {}
            Err(e) => tracing::error!(subject_id = %s, error = e.detail, "recolor failed"),
        }
    }
    changed
}

/// A set of blind indexes, hashed by their first bytes: a blind index is an HMAC, uniformly
/// random to anyone without the index key, so SipHash's defence against chosen keys buys
/// nothing here, and it cost a tenth of an import's parsing.
pub type BlindIndexSet = HashSet<Vec<u8>, std::hash::BuildHasherDefault<BlindIndexHasher>>;

#[derive(Default)]
pub struct BlindIndexHasher(u64);

impl std::hash::Hasher for BlindIndexHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Called for the length, then the bytes: the first eight of each are mixed in.
        let mut first = [0u8; 8];
        let n = bytes.len().min(8);
        first[..n].copy_from_slice(&bytes[..n]);
        self.0 = self.0.rotate_left(17) ^ u64::from_le_bytes(first);
    }
}

/// What an import or an official's change touched.
#[derive(Debug, Default)]
pub struct Touched {
    /// Hash sets: an import of millions of rows adds one per row, and a B-tree of random
    /// 32-byte keys costs a cache miss per comparison.
    pub phone_indexes: BlindIndexSet,
    pub id_indexes: BlindIndexSet,
    /// Regions whose risk changed, with the period of the change.
    pub regions: Vec<(RegionCode, DateTime<Utc>, Option<DateTime<Utc>>)>,
}

impl Touched {
    pub fn is_empty(&self) -> bool {
        self.phone_indexes.is_empty() && self.id_indexes.is_empty() && self.regions.is_empty()
    }
}

/// The registered people a change touched, in subject-id order, each once.
pub async fn subjects_touched(app: &AppState, t: &Touched) -> ApiResult<Vec<SubjectId>> {
    Ok(subjects_touched_in(app.store.as_ref(), t).await?)
}

/// [`subjects_touched`] on a bare store, for the command line (which then puts them on the
/// review queue for a running server).
pub async fn subjects_touched_in(
    store: &dyn healthcode_store::Store,
    t: &Touched,
) -> healthcode_store::StoreResult<Vec<SubjectId>> {
    let phones: Vec<Vec<u8>> = t.phone_indexes.iter().cloned().collect();
    let ids: Vec<Vec<u8>> = t.id_indexes.iter().cloned().collect();
    let mut out = store.subjects_by_indexes(&phones, &ids).await?;
    let far = DateTime::<Utc>::MAX_UTC;
    for (region, from, to) in &t.regions {
        out.extend(store.subjects_with_stays(region, *from, to.unwrap_or(far)).await?);
    }
    // Sorted as a vector, not gathered in a tree: a district turning high-risk gives a million
    // people, already in order from the store (a sorted run sorts in one pass).
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// From this many people on, a change is recolored by the set-based path.
const BULK_FROM: usize = 200;
/// People per round of the set-based path: read together, evaluated, saved in one transaction.
const BULK_ROUND: usize = 50_000;

/// Recolors, in the background, everyone a change touched: one by one for a few people,
/// set-based for many (a region turning high-risk touches a million).
pub fn spawn_recolor(app: &AppState, touched: Touched) {
    if touched.is_empty() {
        return;
    }
    let app = app.clone();
    tokio::spawn(async move {
        match subjects_touched(&app, &touched).await {
            Ok(subjects) => {
                let n = subjects.len();
                let changed = if n >= BULK_FROM {
                    match recolor_many(&app, subjects.into_iter().collect()).await {
                        Ok(done) => done.changed,
                        Err(e) => {
                            tracing::error!(people = n, error = e.detail, "recoloring many people failed");
                            return;
                        }
                    }
                } else {
                    recolor_all(&app, subjects).await
                };
                tracing::info!(people = n, changed, "recolored after a change of facts");
            }
            Err(e) => tracing::error!(error = e.detail, "finding the people a change touched failed"),
        }
    });
}

/// What a set-based recoloring did, with where its time went (the benchmark prints these).
#[derive(Debug, Clone, Copy, Default)]
pub struct Recolored {
    /// People re-evaluated.
    pub people: usize,
    /// Colors that changed (stored, with an event each).
    pub changed: usize,
    /// Reading people and their facts.
    pub reading: StdDuration,
    /// Evaluating the rules (wall time, every core).
    pub evaluating: StdDuration,
    /// Saving the decisions (on the writer, overlapping the next round's reading).
    pub saving: StdDuration,
}

/// Re-evaluates many people with set-based reads and writes: per round of `BULK_ROUND`
/// people, their records and facts in a few queries, the rules evaluated on
/// every core, the decisions saved in one transaction. The result is what [`recolor`] gives
/// each of them (same facts mapping, same rules, same stored record).
pub async fn recolor_many(app: &AppState, subjects: Vec<SubjectId>) -> ApiResult<Recolored> {
    // One rule set for the whole recoloring, kept before any decision names it.
    let rules = app.rules.current_kept(app.store.as_ref(), app.clock.now()).await?;
    let regions = std::sync::Arc::new(crate::risk::region_risk(app).await?);
    let since = crate::risk::look_back_from(app);
    let mut done = Recolored { people: subjects.len(), ..Recolored::default() };
    // Each round's decisions are saved (on the writer's thread) while the next round is read
    // and evaluated; rounds are disjoint sets of people, so neither sees the other's writes.
    let mut saving: Option<tokio::task::JoinHandle<ApiResult<(usize, StdDuration)>>> = None;
    for round in subjects.chunks(BULK_ROUND) {
        let start = std::time::Instant::now();
        let persons = app.store.persons_keys_many(round).await?;
        // No stored colors: the writer sees the color each decision replaces (`keeps_since`).
        let records = app.store.facts_for_many(&persons, since).await?;
        let read = start.elapsed();
        done.reading += read;
        let decisions = evaluate_many(app, &rules, persons, records, &regions).await?;
        done.evaluating += start.elapsed() - read;
        tracing::debug!(
            people = decisions.len(),
            read_ms = read.as_millis() as u64,
            evaluated_ms = start.elapsed().as_millis() as u64,
            "evaluated a round"
        );
        if let Some(previous_round) = saving.take() {
            let (changed, took) = joined(previous_round.await)?;
            done.changed += changed;
            done.saving += took;
        }
        let app = app.clone();
        saving = Some(tokio::spawn(async move {
            let start = std::time::Instant::now();
            let changes = app.store.decisions_save_many(&decisions).await?;
            for (subject, c) in &changes {
                announce(&app, subject, c);
            }
            Ok((changes.len(), start.elapsed()))
        }));
    }
    if let Some(last) = saving {
        let (changed, took) = joined(last.await)?;
        done.changed += changed;
        done.saving += took;
    }
    Ok(done)
}

/// The result of a spawned task; a panic is an internal error.
fn joined<T>(r: Result<ApiResult<T>, tokio::task::JoinError>) -> ApiResult<T> {
    r.map_err(|e| {
        tracing::error!(error = %e, "a recoloring task failed");
        crate::error::ApiError::internal()
    })?
}

/// Evaluates the rules for many people on every core (evaluation is pure), at the clock's now,
/// into decisions as stored (without texts, as [`recolor`] stores them).
async fn evaluate_many(
    app: &AppState,
    rules: &std::sync::Arc<healthcode_core::rules::RuleSet>,
    persons: Vec<PersonKeys>,
    records: Vec<FactRecords>,
    regions: &std::sync::Arc<RegionRisk>,
) -> ApiResult<Vec<DecisionRecord>> {
    let now = app.clock.now();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).max(1);
    let per_thread = persons.len().div_ceil(threads).max(1);
    type Part = (Vec<PersonKeys>, Vec<FactRecords>);
    let mut work: Vec<Part> = Vec::new();
    let mut persons = persons.into_iter();
    let mut records = records.into_iter();
    loop {
        let p: Vec<PersonKeys> = persons.by_ref().take(per_thread).collect();
        if p.is_empty() {
            break;
        }
        let r: Vec<FactRecords> = records.by_ref().take(p.len()).collect();
        work.push((p, r));
    }
    let tasks: Vec<_> = work
        .into_iter()
        .map(|(persons, records)| {
            let app = app.clone();
            let (rules, regions) = (rules.clone(), regions.clone());
            tokio::task::spawn_blocking(move || {
                persons
                    .iter()
                    .zip(records)
                    .map(|(person, records)| {
                        let facts = crate::risk::facts_from(&app, person, records)?;
                        let decision = rules.evaluate_unexplained(&facts, &regions, now);
                        Ok(decision_record(&person.subject_id, &decision))
                    })
                    .collect::<ApiResult<Vec<_>>>()
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.extend(joined(t.await)?);
    }
    Ok(out)
}

/// Every `every`, re-evaluates the people whose review is due and the people others asked
/// for on the database's review queue (`healthcode import`, `healthcode trace`), until
/// `shutdown` fires. Many at once go through the set-based path.
pub fn spawn_scheduler(app: AppState, every: StdDuration, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    const PAGE: u32 = 1000;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => return,
            }
            loop {
                let taken = async {
                    let due = app.store.decisions_due(app.clock.now(), PAGE).await?;
                    let asked = app.store.reviews_take(PAGE).await?;
                    Ok::<_, healthcode_store::StoreError>((due, asked))
                };
                let (due, asked) = match taken.await {
                    Ok(t) => t,
                    Err(e) => {
                        tracing::error!(error = %e, "review scheduler");
                        break;
                    }
                };
                let more = due.len() == PAGE as usize || asked.len() == PAGE as usize;
                let people: BTreeSet<SubjectId> = due.into_iter().chain(asked).collect();
                let n = people.len();
                if n == 0 {
                    break;
                }
                let changed = if n >= BULK_FROM {
                    recolor_many(&app, people.into_iter().collect()).await.map(|done| done.changed).unwrap_or_else(
                        |e| {
                            tracing::error!(error = e.detail, "scheduled reviews");
                            0
                        },
                    )
                } else {
                    recolor_all(&app, people).await
                };
                tracing::debug!(reviewed = n, changed, "scheduled reviews");
                if !more {
                    break;
                }
            }
        }
    });
}
