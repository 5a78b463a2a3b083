//! The one place where an [`OtpTransition`] meets the rules of `healthcode_core::otp`; both
//! backends call it between loading and saving a phone's state.

use chrono::{DateTime, Utc};
use healthcode_core::otp::{self, OtpPolicy, OtpState};

use crate::{OtpResult, OtpTransition};

/// The result, and the state to save (`None`: leave the stored state as it is).
pub fn apply(
    prev: Option<&OtpState>,
    transition: OtpTransition,
    now: DateTime<Utc>,
    policy: &OtpPolicy,
) -> (OtpResult, Option<OtpState>) {
    match transition {
        OtpTransition::Issue { code_hash } => match otp::issue(prev, code_hash, now, policy) {
            Ok(state) => (OtpResult::Issued, Some(state)),
            Err(refusal) => (OtpResult::Refused(refusal), None),
        },
        OtpTransition::Verify { code_hash } => {
            let (outcome, next) = otp::verify(prev, &code_hash, now, policy);
            (OtpResult::Checked(outcome), next)
        }
    }
}
