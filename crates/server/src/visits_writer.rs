//! Visits from concurrent scan handlers, written with group commit: one writer task takes
//! every write waiting on its channel, stores them in one transaction, and only then answers
//! each handler — so a `200` means the visit is committed, and a thousand scans a second cost
//! a few dozen commits rather than a thousand.
//!
//! The writer never waits on a clock to fill a batch: it takes what queued up while the last
//! commit ran (up to `ScanSettings::group_max`) and, while that is small, lets the other tasks
//! run a few times first (`GATHER_YIELDS`) so requests already being handled join, so an idle
//! server commits a lone scan at once and a busy one commits bigger batches. `run()` starts it
//! and stops it after the last request.
//!
//! Also here: what scans and check-ins share and read on every request — the trust list
//! (rebuilt from the keyring once a minute, not per scan) and venues (immutable once
//! registered, so cached).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Duration, Utc};
use healthcode_core::{ScanPolicy, VenueId};
use healthcode_store::{CheckedWrite, Staff, Store, VenueRecord, Written};
use healthcode_token::TrustList;
use prometheus_client::metrics::histogram::Histogram;
use tokio::sync::{mpsc, oneshot, watch};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Scan and check-in settings.
#[derive(Debug, Clone)]
pub struct ScanSettings {
    /// Which colors each venue category admits.
    pub policy: ScanPolicy,
    /// A scan's `at` may be at most this far ahead of the server's clock (device clocks drift).
    pub max_future: Duration,
    /// … and at most this far behind it (an offline device uploading a week later).
    pub max_past: Duration,
    /// A batch item older than this at upload is accepted but flagged (`late`).
    pub flag_after: Duration,
    /// Most scans in one `POST /api/v1/scans/batch`.
    pub batch_max: usize,
    /// Most visits in one group commit.
    pub group_max: usize,
}

impl Default for ScanSettings {
    fn default() -> Self {
        Self {
            policy: ScanPolicy::default(),
            max_future: Duration::minutes(5),
            max_past: Duration::days(7),
            flag_after: Duration::hours(1),
            batch_max: 1000,
            group_max: 1024,
        }
    }
}

type Reply = oneshot::Sender<Result<Vec<Written>, String>>;

/// A device's account and when it was read.
type CachedDevice = (DateTime<Utc>, Arc<Staff>);

struct Job {
    writes: Vec<CheckedWrite>,
    reply: Reply,
}

/// The shared scan machinery held in `AppState`.
pub struct Visits {
    tx: mpsc::Sender<Job>,
    rx: Mutex<Option<mpsc::Receiver<Job>>>,
    trust: RwLock<Option<(DateTime<Utc>, Arc<TrustList>)>>,
    venues: RwLock<HashMap<VenueId, Arc<VenueRecord>>>,
    /// Checkpoint devices by token hash, for `DEVICE_TTL`: a busy gate scans many times a
    /// second, and its account does not change between scans.
    devices: RwLock<HashMap<Vec<u8>, CachedDevice>>,
    /// Codes verified with the signatures of the requests in flight checked together.
    pub codes: crate::signature_batch::SignatureBatcher,
}

impl Default for Visits {
    fn default() -> Self {
        let (tx, rx) = mpsc::channel(8192);
        Self {
            tx,
            rx: Mutex::new(Some(rx)),
            trust: RwLock::new(None),
            venues: RwLock::new(HashMap::new()),
            devices: RwLock::new(HashMap::new()),
            codes: Default::default(),
        }
    }
}

/// How long a checkpoint device's account is reused without reading it again.
const DEVICE_TTL: Duration = Duration::seconds(10);
/// Most devices cached; past it the cache starts over.
const DEVICES_MAX: usize = 10_000;

/// A group this big is committed without letting other tasks run first (`commit`).
const GATHER_TARGET: usize = 256;
/// How many times the writer lets other tasks run while its group is under `GATHER_TARGET`.
const GATHER_YIELDS: usize = 3;

/// How long a built trust list is reused.
const TRUST_REFRESH: Duration = Duration::seconds(60);

impl Visits {
    /// Writes visits durably; answers, in order, what became of each.
    pub async fn write(&self, writes: Vec<CheckedWrite>) -> ApiResult<Vec<Written>> {
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        if self.tx.send(Job { writes, reply }).await.is_err() {
            return Err(unavailable());
        }
        match answer.await {
            Ok(Ok(new)) => Ok(new),
            Ok(Err(msg)) => {
                tracing::error!(error = %msg, "visit write failed");
                Err(ApiError::internal())
            }
            // The writer stopped (shutdown) before answering.
            Err(_) => Err(unavailable()),
        }
    }

    /// The trust list of this server's issuer keys, rebuilt at most once a minute.
    pub fn trust(&self, app: &AppState) -> ApiResult<Arc<TrustList>> {
        let now = app.clock.now();
        if let Some((built, t)) = self.trust.read().expect("trust lock").as_ref()
            && *built <= now
            && now - *built < TRUST_REFRESH
        {
            return Ok(t.clone());
        }
        let s = &app.settings;
        let list = TrustList::from_payload(app.keys.trust_list(now, s.paper_ttl, s.trust_list_validity))
            .map_err(|_| ApiError::internal())?;
        let list = Arc::new(list);
        *self.trust.write().expect("trust lock") = Some((now, list.clone()));
        Ok(list)
    }

    /// A registered venue (cached: venues do not change once registered).
    pub async fn venue(&self, app: &AppState, id: &VenueId) -> ApiResult<Option<Arc<VenueRecord>>> {
        if let Some(v) = self.venues.read().expect("venue lock").get(id) {
            return Ok(Some(v.clone()));
        }
        let Some(v) = app.store.venue_get(id).await? else { return Ok(None) };
        let v = Arc::new(v);
        self.venues.write().expect("venue lock").insert(id.clone(), v.clone());
        Ok(Some(v))
    }

    /// The checkpoint device with this token hash, if cached in the last `DEVICE_TTL`.
    pub fn device(&self, token_hash: &[u8], now: DateTime<Utc>) -> Option<Arc<Staff>> {
        let devices = self.devices.read().expect("device lock");
        let (at, staff) = devices.get(token_hash)?;
        (*at <= now && now - *at < DEVICE_TTL).then(|| staff.clone())
    }

    pub fn remember_device(&self, token_hash: Vec<u8>, staff: Arc<Staff>, now: DateTime<Utc>) {
        let mut devices = self.devices.write().expect("device lock");
        if devices.len() >= DEVICES_MAX {
            devices.clear();
        }
        devices.insert(token_hash, (now, staff));
    }

    /// Starts the writer task (once); it stops when `stop` turns true, after writing what is
    /// queued. Returns `None` if it was already started.
    pub fn spawn_writer(
        &self,
        store: Arc<dyn Store>,
        group_max: usize,
        group_sizes: Histogram,
        stop: watch::Receiver<bool>,
    ) -> Option<tokio::task::JoinHandle<()>> {
        let rx = self.rx.lock().expect("writer lock").take()?;
        let group = Group { max: group_max.max(1), sizes: group_sizes };
        Some(tokio::spawn(writer(store, rx, group, stop)))
    }
}

fn unavailable() -> ApiError {
    ApiError::new(axum::http::StatusCode::SERVICE_UNAVAILABLE, "shutting_down", "the server is stopping; retry")
}

/// How the writer groups visits: at most `max` a commit, each group's size recorded.
struct Group {
    max: usize,
    sizes: Histogram,
}

async fn writer(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Job>, group: Group, mut stop: watch::Receiver<bool>) {
    loop {
        let first = tokio::select! {
            job = rx.recv() => job,
            _ = stop.wait_for(|s| *s) => None,
        };
        let Some(first) = first else { break };
        commit(&*store, first, &mut rx, &group).await;
    }
    // Shutdown: requests have finished; write whatever is still queued.
    rx.close();
    while let Ok(job) = rx.try_recv() {
        commit(&*store, job, &mut rx, &group).await;
    }
}

/// Takes `first` and whatever else is queued (up to `group_max` visits), writes them in one
/// transaction, and answers each job with its part of the result.
async fn commit(store: &dyn Store, first: Job, rx: &mut mpsc::Receiver<Job>, group: &Group) {
    let group_max = group.max;
    let mut jobs = vec![first];
    let mut total = jobs[0].writes.len();
    for round in 0..=GATHER_YIELDS {
        while total < group_max {
            match rx.try_recv() {
                Ok(job) => {
                    total += job.writes.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        if total >= GATHER_TARGET.min(group_max) || round == GATHER_YIELDS {
            break;
        }
        // Let the requests being handled reach the queue: a commit costs about the same for
        // ten visits as for a hundred (its pages, the WAL frames, the decisions query).
        tokio::task::yield_now().await;
    }
    group.sizes.observe(total as f64);
    let sizes: Vec<usize> = jobs.iter().map(|j| j.writes.len()).collect();
    let (all, replies): (Vec<Vec<CheckedWrite>>, Vec<Reply>) = jobs.into_iter().map(|j| (j.writes, j.reply)).unzip();
    let result = store.visits_write_checked(all.into_iter().flatten().collect()).await;
    let mut offset = 0;
    for (n, reply) in sizes.into_iter().zip(replies) {
        let part = match &result {
            Ok(done) => Ok(done[offset..offset + n].to_vec()),
            Err(e) => Err(e.to_string()),
        };
        offset += n;
        let _ = reply.send(part);
    }
}
