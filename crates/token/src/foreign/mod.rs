//! Credentials from beyond our border (互通互认): EU Digital COVID Certificates (`HC1:`) and
//! SMART Health Cards (`shc:/`), verified against the trust material they come with.
//!
//! Both verifiers take text, trust material and "now", never touch the network or the clock,
//! and return the common [`Report`](crate::report::Report). They never panic on any input, and
//! every allocation is bounded by the input's size (and inflated payloads by
//! [`MAX_INFLATED`](crate::inflate::MAX_INFLATED)). What each step checks, the error codes,
//! and the conformance results are in `docs/foreign-credentials.md`.

mod cbor;
pub mod dcc;
mod der;
mod dsc;
pub mod shc;

/// Longest credential text accepted (bytes). A QR code holds at most 7,089 digits or 4,296
/// alphanumeric characters; the margin covers multi-chunk SMART Health Cards pasted as text.
pub const MAX_INPUT: usize = 64 * 1024;
