//! The command line's AWS configuration: its region resolved once per process and said once on
//! stderr, with where it came from. The SDK's own account of the search (an instance-metadata
//! lookup that fails off EC2) is debug output, behind `-vv`.

use aws_config::SdkConfig;
use tokio::sync::OnceCell;

static CONFIG: OnceCell<SdkConfig> = OnceCell::const_new();

/// The configuration every command acts with.
pub async fn config() -> SdkConfig {
    CONFIG
        .get_or_init(|| async {
            let (region, source) = rebound_shared::aws::region_and_source().await;
            match &region {
                Some(region) => eprintln!("rebound: region {region} (from {source})"),
                None => eprintln!(
                    "rebound: no region configured (AWS_REGION, AWS_DEFAULT_REGION, the profile, instance metadata): \
                     a call to AWS will fail until one is"
                ),
            }
            rebound_shared::aws::load_config_in(region).await
        })
        .await
        .clone()
}

/// The same, aimed at `RECOVERY_REGION` when that is set.
pub async fn recovery_config() -> SdkConfig {
    rebound_shared::aws::recovery_of(&config().await)
}
