//! AWS client setup, shared by every function and the command line.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
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
    recovery_of(&load_config().await)
}

/// `config` aimed at `RECOVERY_REGION` when that is set.
pub fn recovery_of(config: &SdkConfig) -> SdkConfig {
    match std::env::var("RECOVERY_REGION") {
        Ok(region) if !region.is_empty() => in_region(config, &region),
        _ => config.clone(),
    }
}

/// The region the SDK's default chain would find, and where it found it, for a person to read:
/// the environment, the profile, or the instance metadata (IMDS). Each is asked once; IMDS's
/// own failure is the SDK's warning, which the command line keeps behind `-vv`.
pub async fn region_and_source() -> (Option<Region>, String) {
    use aws_config::meta::region::ProvideRegion;
    for variable in ["AWS_REGION", "AWS_DEFAULT_REGION"] {
        if let Ok(region) = std::env::var(variable) {
            if !region.is_empty() {
                return (Some(Region::new(region)), variable.to_string());
            }
        }
    }
    if let Some(region) = aws_config::profile::ProfileFileRegionProvider::new().region().await {
        let profile = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".into());
        return (Some(region), format!("profile {profile}"));
    }
    if let Some(region) = aws_config::imds::region::ImdsRegionProvider::builder()
        .build()
        .region()
        .await
    {
        return (Some(region), "instance metadata (IMDS)".into());
    }
    (None, String::new())
}

/// The configuration with its region already chosen (or none), so that the SDK does not look
/// for one again.
pub async fn load_config_in(region: Option<Region>) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(region)
        .load()
        .await
}

/// The two regions a recovery spans, as SDK configurations: one value, so that no constructor
/// takes two look-alike configurations in an order to remember.
#[derive(Debug, Clone)]
pub struct Regions {
    /// Where the application normally runs; also serves the global APIs (Route 53, IAM).
    pub primary: SdkConfig,
    /// Where it recovers to.
    pub recovery: SdkConfig,
}

impl Regions {
    /// The recovery region's name ("" when the configuration has none).
    pub fn recovery_region(&self) -> String {
        self.recovery.region().map(|r| r.to_string()).unwrap_or_default()
    }
}

/// Both regions, from `PRIMARY_REGION` and `RECOVERY_REGION` (the SAM template sets them).
pub async fn load_regions() -> Regions {
    Regions {
        primary: load_primary_config().await,
        recovery: load_recovery_config().await,
    }
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

/// Calls into a region that may be the failed one (re-reading its alarms, fencing its old
/// writer) are best effort: a short attempt and one retry, so a region whose APIs never answer
/// costs seconds, not the function's whole timeout. The SDK's defaults have no read timeout.
pub fn best_effort_timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(Duration::from_secs(3))
        .operation_timeout(Duration::from_secs(8))
        .build()
}

pub fn best_effort_retries() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(2)
}

/// `config` with the best-effort timeouts and retries.
pub fn best_effort(config: &SdkConfig) -> SdkConfig {
    config
        .to_builder()
        .timeout_config(best_effort_timeouts())
        .retry_config(best_effort_retries())
        .build()
}

/// `config` aimed at `region`, with the best-effort timeouts and retries.
pub fn best_effort_in(config: &SdkConfig, region: &str) -> SdkConfig {
    best_effort(&in_region(config, region))
}

/// Blocking calls to a control plane that may be impaired (Route 53's, homed in us-east-1): an
/// answer that never comes ends in a clear `Rebound.Transient` naming the call within the
/// function's timeout, rather than in the function timing out.
pub fn blocking_timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(10))
        .operation_timeout(Duration::from_secs(30))
        .build()
}

/// A function's clients for each recovery region a recovery may choose (a plan's
/// `otherRecoveryRegions`), built on first use: the stack's `RECOVERY_REGION` is one of them,
/// the others are known only once readiness chooses.
pub struct PerRecoveryRegion<T> {
    regions: Regions,
    build: Box<dyn Fn(&Regions) -> T + Send + Sync>,
    built: std::sync::Mutex<std::collections::BTreeMap<String, std::sync::Arc<T>>>,
}

impl<T> PerRecoveryRegion<T> {
    pub fn new(regions: &Regions, build: impl Fn(&Regions) -> T + Send + Sync + 'static) -> Self {
        PerRecoveryRegion {
            regions: regions.clone(),
            build: Box::new(build),
            built: Default::default(),
        }
    }

    /// The clients for acting in `region` (the stack's recovery region when `None`). The
    /// handler refuses a region its plan does not list; until then the clients for it are
    /// built, and kept only while few regions have been asked for.
    pub fn get(&self, region: Option<&str>) -> std::sync::Arc<T> {
        let region = region.map_or_else(|| self.regions.recovery_region(), str::to_string);
        // A poisoned lock only means another invocation panicked while building: the map is
        // still whole.
        let mut built = self.built.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(clients) = built.get(&region) {
            return clients.clone();
        }
        let regions = Regions {
            primary: self.regions.primary.clone(),
            recovery: in_region(&self.regions.recovery, &region),
        };
        let clients = std::sync::Arc::new((self.build)(&regions));
        if built.len() < KEPT_REGIONS {
            built.insert(region, clients.clone());
        }
        clients
    }
}

/// How many regions' clients a function keeps: a plan's recovery regions, and a few more for
/// a plan that changed between recoveries.
const KEPT_REGIONS: usize = 2 * rebound_core::plan::MAX_RECOVERY_REGIONS;

/// The recovery region a step's payload acts in: the context's `recoveryRegion`, set when a
/// recovery chose another than the plan's first.
pub fn chosen_region(payload: &serde_json::Value) -> Option<&str> {
    payload
        .pointer("/context/recoveryRegion")
        .and_then(serde_json::Value::as_str)
        .filter(|region| rebound_core::plan::is_region(region))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    fn regions() -> Regions {
        let config = |r: &str| SdkConfig::builder().region(Region::new(r.to_string())).build();
        Regions {
            primary: config("us-east-1"),
            recovery: config("us-west-2"),
        }
    }

    #[test]
    fn each_region_is_built_once_on_first_use_and_a_flood_of_names_is_not_kept() {
        let builds = Arc::new(AtomicUsize::new(0));
        let counted = builds.clone();
        let per = PerRecoveryRegion::new(&regions(), move |r| {
            counted.fetch_add(1, Ordering::SeqCst);
            r.recovery_region()
        });
        assert_eq!(builds.load(Ordering::SeqCst), 0);
        assert_eq!(*per.get(None), "us-west-2");
        assert_eq!(*per.get(Some("us-west-2")), "us-west-2");
        assert_eq!(*per.get(Some("eu-west-1")), "eu-west-1");
        assert_eq!(*per.get(Some("eu-west-1")), "eu-west-1");
        assert_eq!(builds.load(Ordering::SeqCst), 2);
        for i in 0..20 {
            per.get(Some(&format!("xx-test-{i}")));
        }
        let before = builds.load(Ordering::SeqCst);
        per.get(Some("xx-test-19"));
        assert_eq!(builds.load(Ordering::SeqCst), before + 1, "not kept");
        per.get(Some("eu-west-1"));
        assert_eq!(builds.load(Ordering::SeqCst), before + 1, "kept from before");
    }

    #[test]
    fn only_a_region_shaped_name_chooses_the_clients() {
        let payload = |r: serde_json::Value| serde_json::json!({"context": {"recoveryRegion": r}});
        assert_eq!(chosen_region(&payload("eu-west-1".into())), Some("eu-west-1"));
        assert_eq!(chosen_region(&payload("../../etc".into())), None);
        assert_eq!(chosen_region(&payload(7.into())), None);
        assert_eq!(chosen_region(&serde_json::json!({})), None);
    }
}
