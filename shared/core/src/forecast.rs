//! The recovery replayed on a virtual clock: each operation a recovery makes (or a dry run says
//! it would make) takes the time AWS documents for it ([`figures`]), each polling loop looks
//! again when its changes are expected to end (as the steps time the state machine's waits,
//! [`crate::poll`]), and the predicted RTO is the critical path from the alarm to the
//! validation's last round.

pub mod figures;

use serde::Serialize;

use crate::context::{Action, DryRun, RecoveryContext, StepResult};
use crate::plan::{ActionPoint, RecoveryPlan};
use crate::report::{html::human, Lane, Phase};
use figures::{Figure, LAMBDA_TASK};

/// One stretch of the forecast: a phase, or a step's polling loop.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Leg {
    pub phase: Phase,
    pub lane: Lane,
    pub label: String,
    pub seconds: f64,
    /// Status polls until the slowest operation is done.
    pub polls: u32,
    /// The figure that sets the time, by its key in [`figures::ALL`].
    pub figure: Option<&'static str>,
    pub critical: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Forecast {
    pub legs: Vec<Leg>,
    pub rto_seconds: f64,
    pub target_seconds: u64,
    pub within_target: bool,
    /// What the clock cannot know: a person's time.
    pub excluded: Vec<String>,
    /// The physical floor: the longest chain of AWS's own durations the plan requires (the
    /// alarm's delivery, each step's slowest change, the resolvers' TTL, custom actions at their
    /// declared durations), with nothing of Rebound's (no invocation, no poll interval, no
    /// validation spacing) and each part started as soon as what it needs is done.
    pub floor_seconds: f64,
    /// The floor's chain, as `critical_path` says the forecast's.
    pub floor_path: String,
}

/// What the acting steps do, from a recovery's results or the dry runs of a readiness check.
/// `services` holds both of service-restoration's stages (the capacity added beside the
/// failover and what waits for the writer); the plan tells them apart ([`after_writer`]).
pub struct Planned<'a> {
    pub dns: &'a [Action],
    pub databases: &'a [Action],
    pub services: Vec<&'a Action>,
}

impl<'a> Planned<'a> {
    /// What a recovery did, or, before it acts, what its dry runs say it would do.
    pub fn of(ctx: &'a RecoveryContext) -> Planned<'a> {
        let dry = ctx.dry_runs.as_ref();
        // A reprotect's results built the failback's replicas; its forecast is the failback's.
        let done_counts = ctx.path != crate::context::RecoveryPath::Reprotect;
        let pick = |done: Option<&'a StepResult>, planned: Option<&'a DryRun>| -> &'a [Action] {
            match (done.filter(|_| done_counts), planned) {
                (Some(r), _) => &r.actions,
                (None, Some(DryRun::Ran(r))) => &r.actions,
                _ => &[],
            }
        };
        let r = &ctx.results;
        let services = if done_counts && (r.capacity.is_some() || r.services.is_some()) {
            [r.capacity.as_ref(), r.services.as_ref()]
                .into_iter()
                .flatten()
                .flat_map(|s| &s.actions)
                .collect()
        } else {
            pick(None, dry.and_then(|d| d.services.as_ref())).iter().collect()
        };
        Planned {
            dns: pick(r.dns.as_ref(), dry.and_then(|d| d.dns.as_ref())),
            databases: pick(r.database.as_ref(), dry.and_then(|d| d.database.as_ref())),
            services,
        }
    }
}

/// Whether a service-restoration action waits for the new writer when the region moves: a
/// service or consumer the plan marks `needsWriter`, found by the resource the step names.
pub fn after_writer(plan: &RecoveryPlan, action: &Action) -> bool {
    if let Some(service) = plan.services.iter().find(|s| s.resource_name() == action.resource) {
        return service.needs_writer();
    }
    let regions = [&plan.primary_region, &plan.recovery_region];
    plan.event_source_mappings
        .iter()
        .find(|m| {
            [&m.primary_uuid, &m.recovery_uuid].into_iter().flatten().any(|uuid| {
                regions
                    .iter()
                    .any(|r| action.resource == crate::plan::mapping_resource(uuid, r))
            })
        })
        .is_none_or(|m| m.needs_writer)
}

/// The forecast of a recovery context: its plan, its path, and what it did or would do.
pub fn of_context(ctx: &RecoveryContext) -> Forecast {
    forecast(
        &ctx.plan,
        crate::step::moves_region(ctx),
        ctx.approval_required,
        Planned::of(ctx),
    )
}

/// A polling step: its first invocation makes the changes (one write after another), then it
/// looks again when the slowest change is expected to end (`nextCheckSeconds`, [`crate::poll`]),
/// which finds it done.
fn polled(phase: Phase, lane: Lane, name: &str, step: &str, actions: &[&Action]) -> Leg {
    let doing: Vec<(&Action, Figure)> = actions
        .iter()
        .filter(|a| !a.already_done)
        .filter_map(|a| figures::for_operation(step, &a.operation).map(|f| (*a, f)))
        .collect();
    let writes = doing.iter().filter(|(_, f)| f.key == figures::API_WRITE.key).count() as f64;
    let slowest = doing
        .iter()
        .filter(|(_, f)| f.key != figures::API_WRITE.key)
        .max_by(|a, b| a.1.seconds.total_cmp(&b.1.seconds));
    let first = LAMBDA_TASK.seconds + writes * figures::API_WRITE.seconds;
    match slowest {
        None => Leg {
            phase,
            lane,
            label: format!("{name}: {} change(s) that take effect at once", doing.len()),
            seconds: first,
            polls: 0,
            figure: (writes > 0.0).then_some(figures::API_WRITE.key),
            critical: false,
        },
        Some((action, figure)) => {
            // Looks at most a minute apart; the last look lands on the expected end.
            let polls = (figure.seconds / f64::from(crate::poll::LONGEST_SECONDS))
                .ceil()
                .max(1.0) as u32;
            Leg {
                phase,
                lane,
                label: format!(
                    "{name}: {} {} ({} {}), looked at when it should be done",
                    action.operation,
                    action.resource,
                    figure.key,
                    human(figure.seconds)
                ),
                seconds: first + figure.seconds + LAMBDA_TASK.seconds,
                polls,
                figure: Some(figure.key),
                critical: false,
            }
        }
    }
}

fn every(actions: &[Action]) -> Vec<&Action> {
    actions.iter().collect()
}

/// AWS's own time for a step's changes: the slowest change's figure, or one write when every
/// change takes effect at once; nothing when nothing changes.
fn own_time(step: &str, actions: &[&Action]) -> f64 {
    actions
        .iter()
        .filter(|a| !a.already_done)
        .filter_map(|a| figures::for_operation(step, &a.operation))
        .map(|f| f.seconds)
        .fold(0.0, f64::max)
}

/// The custom actions at `point`, at their declared durations (their timeouts).
fn declared(plan: &RecoveryPlan, point: ActionPoint) -> f64 {
    plan.custom_actions
        .iter()
        .filter(|a| a.at == point)
        .map(|a| a.timeout_seconds as f64)
        .sum()
}

/// [`Forecast::floor_seconds`] and its chain. DNS, the databases and the capacity that needs no
/// writer need nothing of each other; what needs the new writer waits for it.
fn floor(plan: &RecoveryPlan, moves_region: bool, planned: &Planned) -> (f64, String) {
    let mut chain = vec![("alarm delivered", figures::START.seconds)];
    let mut parallel = Vec::new();
    if moves_region {
        let (writer, capacity): (Vec<&Action>, Vec<&Action>) =
            planned.services.iter().partition(|a| after_writer(plan, a));
        chain.push((
            "custom actions before failover",
            declared(plan, ActionPoint::BeforeFailover),
        ));
        let ttl = plan.dns.iter().filter_map(|r| r.ttl).max().unwrap_or(0) as f64;
        let dns = own_time("dns", &every(planned.dns));
        parallel.push(("DNS and its TTL", if dns > 0.0 { dns + ttl } else { 0.0 }));
        parallel.push((
            "databases, then what needs the writer",
            own_time("database", &every(planned.databases))
                + declared(plan, ActionPoint::AfterDatabases)
                + own_time("services", &writer),
        ));
        parallel.push(("capacity", own_time("services", &capacity)));
    } else {
        parallel.push(("services", own_time("services", &planned.services)));
    }
    let (name, longest) = parallel
        .into_iter()
        .fold(("nothing", 0.0), |best, p| if p.1 > best.1 { p } else { best });
    chain.push((name, longest));
    chain.push((
        "custom actions after services",
        declared(plan, ActionPoint::AfterServices),
    ));
    chain.push(("before validation", declared(plan, ActionPoint::BeforeValidation)));
    let seconds = chain.iter().map(|(_, s)| s).sum();
    let path = chain
        .iter()
        .filter(|(_, s)| *s > 0.0)
        .map(|(what, s)| format!("{what} {}", human(*s)))
        .collect::<Vec<_>>()
        .join(" → ");
    (seconds, path)
}

fn fixed(phase: Phase, label: String, seconds: f64, figure: Option<&'static str>) -> Leg {
    Leg {
        phase,
        lane: Lane::Main,
        label,
        seconds,
        polls: 0,
        figure,
        critical: true,
    }
}

/// The custom actions at `point`, each taking at most its timeout.
fn custom(plan: &RecoveryPlan, point: ActionPoint) -> Option<Leg> {
    let at: Vec<_> = plan.custom_actions.iter().filter(|a| a.at == point).collect();
    if at.is_empty() {
        return None;
    }
    let seconds: f64 = at.iter().map(|a| a.timeout_seconds as f64).sum();
    let names: Vec<&str> = at.iter().map(|a| a.name.as_str()).collect();
    Some(fixed(
        Phase::Other,
        format!("custom actions {} (their timeouts)", names.join(", ")),
        seconds,
        Some("custom-action"),
    ))
}

/// Predicts the recovery's RTO. `moves_region`: DNS and databases fail over (not a service
/// restore); `approval_required`: a person's wait, left out of the figure and said so.
pub fn forecast(plan: &RecoveryPlan, moves_region: bool, approval_required: bool, planned: Planned) -> Forecast {
    let (floor_seconds, floor_path) = floor(plan, moves_region, &planned);
    let mut legs = vec![
        fixed(
            Phase::Detection,
            "alarm to execution, then the detector".into(),
            figures::START.seconds + LAMBDA_TASK.seconds,
            Some(figures::START.key),
        ),
        fixed(
            Phase::Decision,
            "the steps' dry runs, then readiness".into(),
            2.0 * LAMBDA_TASK.seconds,
            Some(LAMBDA_TASK.key),
        ),
    ];
    let mut excluded = Vec::new();
    if approval_required {
        excluded.push("the approval wait (a person's time; the plan allows up to its approval.timeoutSeconds)".into());
    }
    if moves_region {
        legs.extend(custom(plan, ActionPoint::BeforeFailover));
        let mut dns = polled(Phase::Dns, Lane::Dns, "DNS", "dns", &every(planned.dns));
        // Resolvers keep the old answer until its TTL runs out: only then do clients (and the
        // validation's probes) reach the recovery region.
        let ttl = plan.dns.iter().filter_map(|r| r.ttl).max().unwrap_or(0);
        if ttl > 0 && planned.dns.iter().any(|a| !a.already_done) {
            dns.seconds += ttl as f64;
            dns.label
                .push_str(&format!(", then resolvers' caches expire (TTL {ttl} s)"));
        }
        let (writer, capacity): (Vec<&Action>, Vec<&Action>) =
            planned.services.iter().partition(|a| after_writer(plan, a));
        // The databases' branch: the failover, the custom actions after it, then the services
        // that wait for the new writer.
        let mut databases = vec![polled(
            Phase::Databases,
            Lane::Databases,
            "databases",
            "database",
            &every(planned.databases),
        )];
        databases.extend(custom(plan, ActionPoint::AfterDatabases).map(|mut l| {
            l.lane = Lane::Databases;
            l
        }));
        databases.push(polled(
            Phase::Services,
            Lane::Databases,
            "services that wait for the writer",
            "services",
            &writer,
        ));
        let capacity = polled(
            Phase::Services,
            Lane::Capacity,
            "capacity beside the failover",
            "services",
            &capacity,
        );
        let mut branches = vec![vec![dns], databases, vec![capacity]];
        let time = |b: &Vec<Leg>| b.iter().map(|l| l.seconds).sum::<f64>();
        let slowest = (0..branches.len())
            .max_by(|a, b| time(&branches[*a]).total_cmp(&time(&branches[*b])))
            .unwrap_or(0);
        for (i, branch) in branches.iter_mut().enumerate() {
            for leg in branch.iter_mut() {
                leg.critical = i == slowest;
            }
        }
        legs.extend(branches.into_iter().flatten());
    } else {
        let mut services = polled(Phase::Services, Lane::Main, "services", "services", &planned.services);
        services.critical = true;
        legs.push(services);
    }
    // The validation rounds run beside the custom actions after services; one more round
    // confirms after both (ValidateBesideActions, then ConfirmRecovery).
    let mut actions: Vec<Leg> = [ActionPoint::AfterServices, ActionPoint::BeforeValidation]
        .into_iter()
        .filter_map(|point| custom(plan, point))
        .collect();
    let rounds = plan.validation.consecutive_successes.max(1);
    let mut rounds_leg = fixed(
        Phase::Validation,
        format!(
            "validation: {rounds} passing round(s), {:.0} s apart, beside the custom actions",
            figures::WAIT_PROBES
        ),
        f64::from(rounds) * LAMBDA_TASK.seconds + f64::from(rounds - 1) * figures::WAIT_PROBES,
        Some(LAMBDA_TASK.key),
    );
    let acting: f64 = actions.iter().map(|l| l.seconds).sum();
    rounds_leg.critical = rounds_leg.seconds >= acting;
    for leg in &mut actions {
        leg.critical = !rounds_leg.critical;
    }
    legs.extend(actions);
    legs.push(rounds_leg);
    legs.push(fixed(
        Phase::Validation,
        "validation: the round that confirms, after the custom actions".into(),
        LAMBDA_TASK.seconds,
        Some(LAMBDA_TASK.key),
    ));
    let rto_seconds = legs.iter().filter(|l| l.critical).map(|l| l.seconds).sum();
    let target_seconds = plan.objectives.rto_seconds;
    Forecast {
        legs,
        rto_seconds,
        target_seconds,
        within_target: rto_seconds <= target_seconds as f64,
        excluded,
        floor_seconds,
        floor_path,
    }
}

impl Forecast {
    /// `detection 4 s → decision 4 s → databases: PromoteReadReplica ... → validation 26 s`.
    pub fn critical_path(&self) -> String {
        self.legs
            .iter()
            .filter(|l| l.critical)
            .map(|l| format!("{} {}", l.label, human(l.seconds)))
            .collect::<Vec<_>>()
            .join(" → ")
    }

    /// How many times its physical floor the forecast is (1.0: nothing waits that AWS does not
    /// make wait).
    pub fn over_floor(&self) -> f64 {
        self.rto_seconds / self.floor_seconds.max(1.0)
    }

    /// One line: the predicted RTO against the target.
    pub fn verdict(&self) -> String {
        format!(
            "predicted RTO {} (target {}): {}",
            human(self.rto_seconds),
            human(self.target_seconds as f64),
            if self.within_target {
                "within target"
            } else {
                "EXCEEDS the target"
            }
        )
    }
}

#[cfg(test)]
mod tests;
