//! Domain types and pure rules of healthcode.
//!
//! Invariant: this crate does no I/O. No clock, no randomness, no files, no network, no SQL:
//! whatever needs the time takes it as a parameter, and the region table is compiled in.
//! Every value from outside enters through a `parse` function here that either returns a
//! well-formed value or an error with a stable code.

pub mod color;
pub mod declaration;
pub mod id_number;
pub mod legal_basis;
pub mod local_time;
pub mod name;
pub mod otp;
pub mod phone;
pub mod region;
pub mod rfc3339;
pub mod role;
pub mod rules;
pub mod subject;
pub mod tracing;
pub mod venue;

/// An error with a stable machine-readable code, used in API field errors and reports.
pub trait Coded: std::error::Error {
    fn code(&self) -> &'static str;
}

pub use color::{Color, RiskLevel};
pub use declaration::{Declaration, DeclarationError, Symptom, Temperature};
pub use id_number::{IdNumber, IdNumberError};
pub use legal_basis::{LEGAL_BASES, LegalBasis, legal_basis};
pub use local_time::{LOCAL_OFFSET_HOURS, local_day};
pub use name::{NameError, PersonName};
pub use phone::{Phone, PhoneError};
pub use region::{RegionCode, RegionError, RegionLevel};
pub use role::{Relation, Role};
pub use subject::{SubjectId, SubjectIdError};
pub use venue::{ScanPolicy, VenueCategory, VenueId};
