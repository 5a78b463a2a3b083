//! The token crate's one integration test binary.

mod foreign;
mod ours;
