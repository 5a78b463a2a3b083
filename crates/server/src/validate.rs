//! Collects field errors while parsing a request body into domain values, so one answer lists
//! every bad field at once.

use healthcode_core::Coded;

use crate::error::{ApiError, FieldError};

#[derive(Default)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    /// Keeps the value, or records the error against `field`.
    pub fn check<T, E: Coded>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.errors.push(FieldError::new(field, e.code(), e.to_string()));
                None
            }
        }
    }

    pub fn push(&mut self, error: FieldError) {
        self.errors.push(error);
    }

    /// `Err` with every recorded problem, if there was any.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() { Ok(()) } else { Err(ApiError::validation(self.errors)) }
    }
}

/// Unwraps values that [`Validator::finish`] has vouched for.
pub fn checked<T>(value: Option<T>) -> T {
    value.expect("validated before use")
}
