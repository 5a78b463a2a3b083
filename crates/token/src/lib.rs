//! The signed health code and its verifier.
//!
//! Invariant: nothing here touches a database, the network or the clock: keys, trust lists
//! and "now" are passed in, so verification works offline and the same decision can be made
//! on a checkpoint device or on the server.

pub mod base45;
pub mod foreign;
pub mod inflate;
pub mod qr;
pub mod report;

pub use report::{Format, Report, ReportError, Steps};
