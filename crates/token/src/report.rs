//! The verification report: one shape for every credential format, as printed by
//! `healthcode verify --json` (API.md).

use serde::Serialize;

/// Which kind of credential was presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Format {
    /// Our own health code (`JKM1:`).
    #[serde(rename = "healthcode")]
    Healthcode,
    /// EU Digital COVID Certificate (`HC1:`).
    #[serde(rename = "eu-dcc")]
    EuDcc,
    /// SMART Health Card (`shc:/`).
    #[serde(rename = "shc")]
    Shc,
}

/// Each step is `Some(true)` (passed), `Some(false)` (failed) or `None` (not run).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Steps {
    pub prefix: Option<bool>,
    pub base45: Option<bool>,
    pub inflate: Option<bool>,
    pub cose: Option<bool>,
    pub signature: Option<bool>,
    pub expiry: Option<bool>,
    pub schema: Option<bool>,
    pub key_usage: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportError {
    /// Stable machine-readable code (docs/token-format.md lists them).
    pub code: &'static str,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub valid: bool,
    pub format: Option<Format>,
    /// The first failure, or `None` when valid.
    pub error: Option<ReportError>,
    pub steps: Steps,
    /// What the credential carries (format-specific JSON), when it could be decoded.
    pub claims: Option<serde_json::Value>,
}

impl Report {
    pub fn new(format: Option<Format>) -> Self {
        Self { valid: false, format, error: None, steps: Steps::default(), claims: None }
    }

    /// Records the first failure (later ones keep the first).
    pub fn fail(&mut self, code: &'static str, message: impl Into<String>) {
        if self.error.is_none() {
            self.error = Some(ReportError { code, message: message.into() });
        }
        self.valid = false;
    }

    /// Valid when no error was recorded.
    pub fn finish(mut self) -> Self {
        self.valid = self.error.is_none();
        self
    }
}
