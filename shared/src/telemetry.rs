//! Logging: JSON lines in Lambda (CloudWatch Logs Insights can query them), text elsewhere.

/// Sets up tracing once, at the start of `main`. `RUST_LOG` overrides the level (default info).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        // Lambda adds its own timestamps and request ids.
        builder
            .json()
            .without_time()
            .with_current_span(false)
            .with_ansi(false)
            .init();
    } else {
        builder.with_writer(std::io::stderr).init();
    }
}

/// Sets up tracing for a command line: stderr, human-readable (coloured on a terminal) or JSON
/// lines, at `default_level` unless `RUST_LOG` says otherwise.
pub fn init_stderr(default_level: &str, json: bool) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr);
    if json {
        builder.json().with_current_span(false).with_ansi(false).init();
    } else {
        builder.with_ansi(std::io::stderr().is_terminal()).init();
    }
}
