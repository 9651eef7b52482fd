//! Readiness's capacity check: for each service sized from the primary's peak
//! (`capacity.percentOfPeak`), the peak read where the primary answers and kept in the recovery
//! region for the recovery to size from (`rebound_shared::peaks`), and the count it gives.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use rebound_shared::context::{Check, RecoveryContext};
use rebound_shared::peaks::{self, Peak, PEAK_HOURS};
use rebound_shared::plan::Service;
use rebound_shared::step::services_in_scope;

use crate::accounts::{by_account, in_account};
use crate::RecoveryValidator;

/// Where each service's peak came from, for the check's detail.
#[derive(Debug, Clone, PartialEq)]
pub enum PeakSource {
    /// Read in the primary now (and kept).
    Primary(f64),
    /// The primary did not answer, or had no datapoint: the one kept earlier.
    Kept(Peak),
    Unknown,
}

impl PeakSource {
    pub fn running(&self) -> Option<f64> {
        match self {
            PeakSource::Primary(p) => Some(*p),
            PeakSource::Kept(k) => Some(k.running),
            PeakSource::Unknown => None,
        }
    }
}

/// Each sized service's peak: the primary's where it has one, else the one kept.
pub fn sources(
    services: &[&Service],
    primary: &HashMap<String, f64>,
    kept: &HashMap<String, Peak>,
) -> Vec<(String, PeakSource)> {
    services
        .iter()
        .map(|s| {
            let name = s.resource_name();
            let source = match (primary.get(&name), kept.get(&name)) {
                (Some(p), _) => PeakSource::Primary(*p),
                (None, Some(k)) => PeakSource::Kept(*k),
                (None, None) => PeakSource::Unknown,
            };
            (name, source)
        })
        .collect()
}

/// One line per service: its peak, where it came from, and what the plan makes of it.
pub fn describe(service: &Service, source: &PeakSource, primary_region: &str) -> String {
    let Some(from) = service.from_peak() else {
        return String::new();
    };
    let target = from.target(source.running());
    let name = service.resource_name();
    match source {
        PeakSource::Primary(p) => format!(
            "{name}: peak {p} in {primary_region} over {PEAK_HOURS} h: {target} ({} %, at least {})",
            from.percent_of_peak, from.floor
        ),
        PeakSource::Kept(k) => format!(
            "{name}: no peak read in {primary_region} now; the one kept at {}: {} gives {target} ({} %, at least {})",
            k.at.to_rfc3339(),
            k.running,
            from.percent_of_peak,
            from.floor
        ),
        PeakSource::Unknown => format!(
            "{name}: no peak known (no {} datapoint in {primary_region} in {PEAK_HOURS} h, none kept): its floor, {target}",
            match service {
                Service::Ecs { .. } => "RunningTaskCount (is Container Insights on for its cluster?)",
                Service::AutoScalingGroup { .. } => "GroupInServiceInstances (is group metrics collection on?)",
                Service::EksNodegroup { .. } => {
                    "GroupInServiceInstances for its Auto Scaling groups (is group metrics collection on for them?)"
                }
                Service::EksDeployment { .. } => "peak (it runs a fixed count)",
            }
        ),
    }
}

impl RecoveryValidator {
    /// The capacity the services sized from the peak will ask for. The primary's peaks are read
    /// (where it answers) and kept in the recovery region. A service whose peak is not known
    /// fails a scheduled check (someone should turn its metrics on); before a failover it is a
    /// warning, and the service runs its minimum.
    /// Returns the check (none when no service is sized from the peak) and the peaks found.
    pub(crate) async fn peak_check(
        &self,
        ctx: &RecoveryContext,
        scheduled: bool,
        now: DateTime<Utc>,
    ) -> (Option<Check>, HashMap<String, f64>) {
        let sized: Vec<&Service> = services_in_scope(ctx)
            .into_iter()
            .filter(|s| s.from_peak().is_some())
            .collect();
        if sized.is_empty() {
            return (None, HashMap::new());
        }
        let mut notes = Vec::new();
        // Each account's peaks are read in its own primary, as its role.
        let mut primary = HashMap::new();
        match self.service_reads(ctx, &sized).await {
            Ok(reads) => {
                for (account, group) in by_account(&sized) {
                    let reads = reads.of(account);
                    match peaks::primary_peaks(&reads.primary_cloudwatch, &reads.primary_eks, &group, now).await {
                        Ok(found) => primary.extend(found),
                        Err(e) => notes.push(format!(
                            "{}{} did not answer ({e})",
                            ctx.plan.primary_region,
                            in_account(account)
                        )),
                    }
                }
            }
            Err(e) => notes.push(format!("the primary's peaks were not read ({e})")),
        }
        let kept = match peaks::kept(&self.cloudwatch, &ctx.application, &sized, now).await {
            Ok(kept) => kept,
            Err(e) => {
                notes.push(format!("the kept peaks could not be read ({e})"));
                HashMap::new()
            }
        };
        let fresh: BTreeMap<String, f64> = primary.iter().map(|(k, v)| (k.clone(), *v)).collect();
        // Rebound's own bookkeeping, like the forecast: kept by dry runs too.
        if !fresh.is_empty() {
            if let Err(e) = peaks::keep(&self.cloudwatch, &ctx.application, &fresh, now).await {
                notes.push(format!("not kept for the recovery ({e})"));
            }
        }
        let sources = sources(&sized, &primary, &kept);
        let unknown = sources.iter().any(|(_, s)| *s == PeakSource::Unknown);
        let mut lines: Vec<String> = sized
            .iter()
            .zip(&sources)
            .map(|(service, (_, source))| describe(service, source, &ctx.plan.primary_region))
            .collect();
        lines.extend(notes);
        let found = sources
            .iter()
            .filter_map(|(name, source)| Some((name.clone(), source.running()?)))
            .collect();
        let check = Check::new("capacity from peak".into(), !(unknown && scheduled), lines.join("; "));
        (Some(check), found)
    }
}
