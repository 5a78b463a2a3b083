//! Code verification for scans and the verify-only endpoint, with the Ed25519 signatures of
//! the requests in flight verified together (`healthcode_token::batch`: about a third of the
//! cost of one check each at 16 or more). Each request runs the cheap steps itself (prefix,
//! Base45, inflate, COSE, key lookup: `healthcode_token::open`) and the steps after the
//! signature (claims, validity, key usage); only the signature goes to the batch task. The
//! decision is the single check's (`healthcode_token::check`), token for token
//! (`docs/token-format.md`, "Batch verification").
//!
//! The batch task never waits on a clock: it takes what is queued, and while that is less
//! than `TARGET` it yields to the scheduler (at most `YIELDS` times), so requests already
//! being handled can join — a lone scan on an idle server is verified at once, a busy server
//! verifies dozens per batch. Started on first use.

use std::sync::OnceLock;

use healthcode_token::{Report, SignatureVerdict, Signed, TrustList, Verified, VerifyOptions};
use tokio::sync::{mpsc, oneshot};

/// A batch this big is verified without waiting for more: the cost per signature is near its
/// floor (a third of a single check) from here on.
const TARGET: usize = 32;
/// The largest batch: everyone in it waits for all of it (~15 µs a signature).
const MAX: usize = 128;
/// How many times the task lets other tasks run before verifying a batch under `TARGET`.
const YIELDS: usize = 2;

struct Job {
    signed: Signed,
    reply: oneshot::Sender<SignatureVerdict>,
}

#[derive(Default)]
pub struct SignatureBatcher {
    tx: OnceLock<mpsc::UnboundedSender<Job>>,
}

impl SignatureBatcher {
    /// Verifies one of our codes at `opts.at`: the outcome of `healthcode_token::check`.
    pub async fn check(&self, text: &str, trust: &TrustList, opts: VerifyOptions) -> Result<Verified, Report> {
        let opened = healthcode_token::open(text, trust)?;
        let (reply, answer) = oneshot::channel();
        let job = Job { signed: opened.signed().clone(), reply };
        let valid = match self.sender().send(job) {
            Ok(()) => answer.await.ok(),
            Err(_) => None,
        };
        // No answer: the task stopped with the runtime; verify here.
        let valid = valid.unwrap_or_else(|| opened.signed().check());
        opened.finish(valid, opts)
    }

    fn sender(&self) -> &mpsc::UnboundedSender<Job> {
        self.tx.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(batches(rx));
            tx
        })
    }
}

async fn batches(mut rx: mpsc::UnboundedReceiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX);
    while let Some(first) = rx.recv().await {
        jobs.push(first);
        for round in 0..=YIELDS {
            while jobs.len() < MAX {
                match rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            if jobs.len() >= TARGET || round == YIELDS {
                break;
            }
            tokio::task::yield_now().await;
        }
        let signed: Vec<&Signed> = jobs.iter().map(|j| &j.signed).collect();
        let valid = healthcode_token::batch::verify_signatures(&signed);
        for (job, valid) in jobs.drain(..).zip(valid) {
            let _ = job.reply.send(valid);
        }
    }
}
