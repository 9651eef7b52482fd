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
