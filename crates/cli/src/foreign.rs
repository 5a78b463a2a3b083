//! EU DCC and SMART Health Card verification from the command line.

use std::path::Path;

use anyhow::Result;
use chrono::{DateTime, Utc};
use healthcode_token::{Format, Report};

pub fn dcc(_text: &str, _dsc: Option<&Path>, _at: DateTime<Utc>) -> Result<Report> {
    let mut r = Report::new(Some(Format::EuDcc));
    r.fail("format_unsupported", "EU DCC verification is being integrated");
    Ok(r)
}

pub fn shc(_text: &str, _jwks: Option<&Path>, _at: DateTime<Utc>) -> Result<Report> {
    let mut r = Report::new(Some(Format::Shc));
    r.fail("format_unsupported", "SMART Health Card verification is being integrated");
    Ok(r)
}
