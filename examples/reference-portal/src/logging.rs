//! The log output: `tracing` lines on standard error, as text (the default) or one JSON object
//! per line (`NHS_PORTAL_LOG_FORMAT=json`) for a log shipper. The level comes from `RUST_LOG`
//! (default `info`). Every line logged while a request is handled carries the request's span,
//! `request` with its `correlation_id` (`nhs_portal_web::correlation`); no line carries patient
//! data (`tests/log_privacy.rs` checks a whole run).

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, with the fields of the line's spans (`spans`).
    Json,
}

impl LogFormat {
    /// Its setting value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Json => "json",
        }
    }
}

/// Libraries held at `warn` whatever `RUST_LOG` says, because their debug lines quote patient
/// data: handlebars logs the data each page is rendered with.
const HELD_AT_WARN: &[&str] = &["handlebars=warn"];

/// Installs the global subscriber.
pub fn init(format: LogFormat) {
    let mut filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    for directive in HELD_AT_WARN {
        if let Ok(d) = directive.parse() {
            filter = filter.add_directive(d);
        }
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(false)
            .with_span_list(true)
            .init(),
    }
}
