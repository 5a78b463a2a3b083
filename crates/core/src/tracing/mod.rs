//! Contact tracing (R7), as a pure computation: who was near a case, and who was near them.
//!
//! The caller (the server's tracing job) reads visits, venues, trips and household links from
//! the store in a few set-based queries and hands them over as a [`TraceData`]; everything
//! here is in memory, with no clock (callers pass `now`) and no I/O. Definitions, parameters
//! and what is not traced: `docs/tracing.md`.
//!
//! - [`infectious_window`]: from 2 days before onset (else the positive sample, else the
//!   report) to isolation (else now).
//! - [`close_contacts`]: one co-presence at a venue of at least the category's minimum
//!   (default 15 minutes) inside the window; the same train coach or the same flight within
//!   ±3 rows on a day inside the window; household members.
//! - [`secondary_contacts`]: the same tests applied to each close contact from their first
//!   contact with the case until `until` (now); the case and its close contacts are never
//!   secondary.

mod contacts;
mod data;
mod params;
mod seat;
mod window;

pub use contacts::{Contact, Evidence, HouseholdRelation, close_contacts, secondary_contacts};
pub use data::{Seat, TraceData, VenueInfo, Visit};
pub use params::TracingParams;
pub use seat::row_number;
pub use window::{CaseTimes, Window, infectious_window};
