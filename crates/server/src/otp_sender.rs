//! Delivery of one-time passwords. A deployment plugs in its SMS gateway by implementing
//! [`OtpSender`]; the [`LogSender`] is for demos and tests.

use async_trait::async_trait;
use healthcode_core::Phone;

#[derive(Debug, thiserror::Error)]
#[error("the one-time password could not be sent: {0}")]
pub struct SendError(pub String);

#[async_trait]
pub trait OtpSender: Send + Sync + 'static {
    async fn send(&self, phone: &Phone, code: &str) -> Result<(), SendError>;
}

/// Writes the code to the log. This is the one log line allowed to hold a phone number and a
/// code, and it exists only where `HEALTHCODE_OTP_SENDER=log` was chosen (the `demo` default).
pub struct LogSender;

#[async_trait]
impl OtpSender for LogSender {
    async fn send(&self, phone: &Phone, code: &str) -> Result<(), SendError> {
        tracing::info!(target: "healthcode::otp", "otp phone={} code={}", phone.expose(), code);
        Ok(())
    }
}

/// Refuses to send: `serve` without a configured sender.
pub struct DisabledSender;

#[async_trait]
impl OtpSender for DisabledSender {
    async fn send(&self, _phone: &Phone, _code: &str) -> Result<(), SendError> {
        Err(SendError("no one-time-password sender is configured (HEALTHCODE_OTP_SENDER)".into()))
    }
}
