//! AWS client setup, shared by every function and the command line.

use aws_config::{BehaviorVersion, Region, SdkConfig};

/// Loads the AWS configuration once per process (credentials, region, and `AWS_ENDPOINT_URL`
/// when pointed at a local endpoint).
pub async fn load_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// The same configuration aimed at another region: recovery-region resources are acted on
/// with clients built from this.
pub fn in_region(config: &SdkConfig, region: &str) -> SdkConfig {
    config.to_builder().region(Region::new(region.to_string())).build()
}

/// The configuration for acting in the recovery region: `RECOVERY_REGION` when set (the SAM
/// template sets it), otherwise the Lambda's own region.
pub async fn load_recovery_config() -> SdkConfig {
    let config = load_config().await;
    match std::env::var("RECOVERY_REGION") {
        Ok(region) if !region.is_empty() => in_region(&config, &region),
        _ => config,
    }
}

/// The region a client acts in, for checking it against the plan.
pub fn region_of(config: &SdkConfig) -> String {
    config.region().map(|r| r.to_string()).unwrap_or_default()
}

/// The configuration for acting in the primary region: `PRIMARY_REGION` when set (the SAM
/// template sets it), otherwise the Lambda's own region.
pub async fn load_primary_config() -> SdkConfig {
    let config = load_config().await;
    match std::env::var("PRIMARY_REGION") {
        Ok(region) if !region.is_empty() => in_region(&config, &region),
        _ => config,
    }
}
