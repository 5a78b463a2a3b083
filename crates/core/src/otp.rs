//! One-time-password login rules, pure: the store keeps an [`OtpState`] per phone and applies
//! these functions to it inside one transaction, so both backends behave the same.

use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtpPolicy {
    /// How long a code is valid.
    pub ttl: Duration,
    /// Wrong codes in a row before the phone is locked.
    pub max_failures: u32,
    /// How long a lock lasts.
    pub lockout: Duration,
    /// Minimum time between two codes sent to one phone.
    pub resend_after: Duration,
}

impl Default for OtpPolicy {
    fn default() -> Self {
        Self {
            ttl: Duration::minutes(5),
            max_failures: 5,
            lockout: Duration::minutes(15),
            resend_after: Duration::seconds(60),
        }
    }
}

/// What is stored for a phone. `code_hash` is a keyed hash of the code, never the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtpState {
    pub code_hash: Option<Vec<u8>>,
    pub expires_at: DateTime<Utc>,
    pub sent_at: DateTime<Utc>,
    pub failures: u32,
    pub locked_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpRefusal {
    Locked { until: DateTime<Utc> },
    TooSoon { retry_at: DateTime<Utc> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpOutcome {
    Accepted,
    Wrong {
        remaining: u32,
    },
    /// This wrong code was the last allowed one.
    LockedNow {
        until: DateTime<Utc>,
    },
    Locked {
        until: DateTime<Utc>,
    },
    Expired,
    /// No code was sent, or it was used already.
    NoCode,
}

fn active_lock(state: &OtpState, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    state.locked_until.filter(|until| *until > now)
}

/// A new code for a phone, or why none may be sent now. Failures carry over, so asking for a
/// new code does not reset the count of wrong tries.
pub fn issue(
    prev: Option<&OtpState>,
    code_hash: Vec<u8>,
    now: DateTime<Utc>,
    policy: &OtpPolicy,
) -> Result<OtpState, OtpRefusal> {
    let mut failures = 0;
    if let Some(p) = prev {
        if let Some(until) = active_lock(p, now) {
            return Err(OtpRefusal::Locked { until });
        }
        let retry_at = p.sent_at + policy.resend_after;
        if retry_at > now {
            return Err(OtpRefusal::TooSoon { retry_at });
        }
        if p.locked_until.is_none() {
            failures = p.failures;
        }
    }
    Ok(OtpState {
        code_hash: Some(code_hash),
        expires_at: now + policy.ttl,
        sent_at: now,
        failures,
        locked_until: None,
    })
}

/// Checks a submitted code; returns the outcome and the state to store (`None`: unchanged).
pub fn verify(
    state: Option<&OtpState>,
    submitted_hash: &[u8],
    now: DateTime<Utc>,
    policy: &OtpPolicy,
) -> (OtpOutcome, Option<OtpState>) {
    let Some(state) = state else { return (OtpOutcome::NoCode, None) };
    if let Some(until) = active_lock(state, now) {
        return (OtpOutcome::Locked { until }, None);
    }
    let Some(expected) = &state.code_hash else { return (OtpOutcome::NoCode, None) };
    if state.expires_at <= now {
        let used = OtpState { code_hash: None, ..state.clone() };
        return (OtpOutcome::Expired, Some(used));
    }
    if constant_time_eq(expected, submitted_hash) {
        let done = OtpState { code_hash: None, failures: 0, locked_until: None, ..state.clone() };
        return (OtpOutcome::Accepted, Some(done));
    }
    let failures = state.failures + 1;
    if failures >= policy.max_failures {
        let until = now + policy.lockout;
        let locked = OtpState { code_hash: None, failures: 0, locked_until: Some(until), ..state.clone() };
        (OtpOutcome::LockedNow { until }, Some(locked))
    } else {
        let next = OtpState { failures, ..state.clone() };
        (OtpOutcome::Wrong { remaining: policy.max_failures - failures }, Some(next))
    }
}

/// Equality whose time does not depend on where the first difference is.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn a_code_works_once_within_its_lifetime() {
        let p = OtpPolicy::default();
        let s = issue(None, b"h".to_vec(), t(0), &p).unwrap();
        let (o, s2) = verify(Some(&s), b"h", t(10), &p);
        assert_eq!(o, OtpOutcome::Accepted);
        let (o, _) = verify(s2.as_ref(), b"h", t(11), &p);
        assert_eq!(o, OtpOutcome::NoCode);
        let (o, _) = verify(Some(&s), b"h", t(300), &p);
        assert_eq!(o, OtpOutcome::Expired);
    }

    #[test]
    fn five_wrong_tries_lock_the_phone_even_across_new_codes() {
        let p = OtpPolicy::default();
        let mut s = issue(None, b"h".to_vec(), t(0), &p).unwrap();
        for i in 1..=3 {
            let (o, n) = verify(Some(&s), b"x", t(i), &p);
            assert_eq!(o, OtpOutcome::Wrong { remaining: 5 - i as u32 });
            s = n.unwrap();
        }
        s = issue(Some(&s), b"h2".to_vec(), t(100), &p).unwrap();
        let (o, n) = verify(Some(&s), b"x", t(101), &p);
        assert_eq!(o, OtpOutcome::Wrong { remaining: 1 });
        let (o, n) = verify(n.as_ref(), b"x", t(102), &p);
        assert_eq!(o, OtpOutcome::LockedNow { until: t(102) + p.lockout });
        let locked = n.unwrap();
        assert_eq!(verify(Some(&locked), b"h2", t(103), &p).0, OtpOutcome::Locked { until: t(102) + p.lockout });
        assert_eq!(
            issue(Some(&locked), b"h3".to_vec(), t(200), &p),
            Err(OtpRefusal::Locked { until: t(102) + p.lockout })
        );
        // After the lock a fresh code works and the count starts again.
        let s = issue(Some(&locked), b"h3".to_vec(), t(102 + 15 * 60), &p).unwrap();
        assert_eq!(s.failures, 0);
        assert_eq!(verify(Some(&s), b"h3", t(102 + 15 * 60 + 1), &p).0, OtpOutcome::Accepted);
    }

    #[test]
    fn codes_are_not_resent_too_often() {
        let p = OtpPolicy::default();
        let s = issue(None, b"h".to_vec(), t(0), &p).unwrap();
        assert_eq!(issue(Some(&s), b"h".to_vec(), t(30), &p), Err(OtpRefusal::TooSoon { retry_at: t(60) }));
        assert!(issue(Some(&s), b"h".to_vec(), t(60), &p).is_ok());
    }
}
