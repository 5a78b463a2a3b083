//! Prometheus metrics, one registry per server (no global recorder, so tests can start many
//! servers in one process).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    /// The route pattern (`/api/v1/persons/{subject_id}`), never the raw path.
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

type HistogramFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: HistogramFamily,
    pub otp_sent: Counter,
    pub logins: Counter,
    pub registrations: Counter,
    pub declarations: Counter,
    pub color_changes: Counter,
    /// Visits per group commit of scans and check-ins: how well the writer amortizes a commit.
    pub visit_group_size: Histogram,
}

fn latency_histogram() -> Histogram {
    // 0.25 ms … ~8 s
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("healthcode");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: HistogramFamily = Family::new_with_constructor(latency_histogram);
        let otp_sent = Counter::default();
        let logins = Counter::default();
        let registrations = Counter::default();
        let declarations = Counter::default();
        let color_changes = Counter::default();
        // 1 … 2048
        let visit_group_size = Histogram::new(exponential_buckets(1.0, 2.0, 12));
        registry.register("http_requests", "HTTP requests by route and status", requests.clone());
        registry.register("http_request_duration_seconds", "HTTP request latency", latency.clone());
        registry.register("otp_sent", "One-time passwords sent", otp_sent.clone());
        registry.register("logins", "Successful citizen logins", logins.clone());
        registry.register("registrations", "Persons and dependents registered", registrations.clone());
        registry.register("declarations", "Daily declarations recorded", declarations.clone());
        registry.register("color_changes", "Color changes stored", color_changes.clone());
        registry.register("visit_group_size", "Visits written per group commit", visit_group_size.clone());
        Self {
            registry,
            requests,
            latency,
            otp_sent,
            logins,
            registrations,
            declarations,
            color_changes,
            visit_group_size,
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String");
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
