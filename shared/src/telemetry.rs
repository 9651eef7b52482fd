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
