//! The signed health code and its verifier.
//!
//! Invariant: nothing here touches a database, the network or the clock: trust lists and
//! "now" are passed in, so verification works offline and the same decision can be made on a
//! checkpoint device or on the server. The one file access is the key folder (`keyring`).

pub mod alg;
pub mod base45;
pub mod batch;
pub mod claims;
pub mod code;
pub mod foreign;
pub mod inflate;
pub mod keyring;
pub mod qr;
pub mod report;
pub mod trust_list;
pub mod venue_code;
pub mod verify;

pub use alg::{Alg, PublicKey, SecretKey};
pub use claims::{CodeKind, HealthClaims, Summary};
pub use code::{PREFIX, sign_token};
pub use keyring::{IssuerKey, Keyring, KeyringError};
pub use report::{Format, Report, ReportError, Steps};
pub use trust_list::{SignedTrustList, TrustList, TrustListError, TrustListPayload};
pub use venue_code::{VENUE_PREFIX, VenueCode, check_venue_code, sign_venue_code};
pub use verify::{Opened, SignatureVerdict, Signed, Verified, VerifyOptions, check, check_many, detect, open, verify};
