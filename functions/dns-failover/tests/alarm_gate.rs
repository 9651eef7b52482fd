//! `alarmHealthCheck` mode against moto: the alarm and the metric CloudWatch holds afterwards,
//! the health check's wiring read from Route 53, and a failover with Route 53 cut off by the
//! fault proxy.

use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use chrono::Utc;
use dns_failover::{DnsError, DnsFailover};
use rebound_shared::context::{ActionStatus, StepResult, StepStatus};
use rebound_shared::ErrorKind;
use rebound_tests::faults::{Fault, FaultProxy};
use rebound_tests::{event, seed, MotoServer};
use serde_json::{json, Value};

const GATE: &str = "orders-primary-gate";

struct World {
    moto: MotoServer,
    request: Value,
    health_check: String,
}

async fn world() -> World {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let health_check = seed::health_check_gate(&moto.config("us-east-1"), &moto.config("us-west-2"), GATE)
        .await
        .expect("gate");
    let mut request = event("dns-failover.json");
    request["context"]["plan"]["dns"] = json!([{
        "hostedZoneId": "Z0123456789ABCDEFGHIJ", "name": "api.orders.example.com.", "type": "CNAME",
        "mode": "alarmHealthCheck", "alarmName": GATE, "healthCheckId": health_check
    }]);
    World {
        moto,
        request,
        health_check,
    }
}

impl World {
    fn dns(&self) -> DnsFailover {
        DnsFailover::new(&self.moto.regions())
    }

    async fn run(&self, dns: &DnsFailover, request: &Value) -> Result<StepResult, DnsError> {
        dns.handle(request.clone(), Utc::now()).await
    }

    /// The gate's state, as CloudWatch holds it.
    async fn state(&self) -> String {
        let cloudwatch = aws_sdk_cloudwatch::Client::new(&self.moto.config("us-west-2"));
        let out = cloudwatch
            .describe_alarms()
            .alarm_names(GATE)
            .send()
            .await
            .expect("DescribeAlarms");
        out.metric_alarms()[0]
            .state_value()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default()
    }

    /// Every value published to the gate's metric in the last hour.
    async fn published(&self) -> Vec<f64> {
        let cloudwatch = aws_sdk_cloudwatch::Client::new(&self.moto.config("us-west-2"));
        let now = aws_smithy_types::DateTime::from_secs(Utc::now().timestamp() + 60);
        let hour_ago = aws_smithy_types::DateTime::from_secs(Utc::now().timestamp() - 3600);
        let metric = Metric::builder()
            .namespace("Rebound")
            .metric_name("PrimaryOut")
            .dimensions(Dimension::builder().name("Application").value("orders").build())
            .build();
        let out = cloudwatch
            .get_metric_data()
            .metric_data_queries(
                MetricDataQuery::builder()
                    .id("gate")
                    .metric_stat(MetricStat::builder().metric(metric).period(60).stat("Maximum").build())
                    .build(),
            )
            .start_time(hour_ago)
            .end_time(now)
            .send()
            .await
            .expect("GetMetricData");
        out.metric_data_results()
            .iter()
            .flat_map(|r| r.values().to_vec())
            .collect()
    }
}

#[tokio::test]
async fn failover_drives_the_gate_into_alarm_and_failback_clears_it() {
    let w = world().await;
    let dns = w.dns();
    assert_eq!(w.state().await, "OK");
    let result = w.run(&dns, &w.request).await.expect("failover");
    assert_eq!(result.status, StepStatus::Completed);
    assert_eq!(result.actions.len(), 1);
    assert_eq!(result.actions[0].operation, "SetAlarmState");
    assert_eq!(result.actions[0].status, ActionStatus::Done);
    assert_eq!(w.state().await, "ALARM");
    assert_eq!(w.published().await, vec![1.0], "the metric breaches the threshold too");

    // Again: already done, nothing published.
    let again = w.run(&dns, &w.request).await.expect("again");
    assert!(again.actions[0].already_done, "{:?}", again.actions);
    assert_eq!(w.published().await, vec![1.0]);

    let mut failback = w.request.clone();
    failback["context"]["mode"] = json!("failback");
    w.run(&dns, &failback).await.expect("failback");
    assert_eq!(w.state().await, "OK");
}

/// Puts alarm `name` on the gate's metric, with the gate's settings but its missing data
/// treated as CloudWatch's default does (`missing`).
async fn alarm_on_the_gates_metric(w: &World, name: &str) {
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&w.moto.config("us-west-2"));
    let out = cloudwatch
        .describe_alarms()
        .alarm_names(GATE)
        .send()
        .await
        .expect("DescribeAlarms");
    let gate = &out.metric_alarms()[0];
    cloudwatch
        .put_metric_alarm()
        .alarm_name(name)
        .set_namespace(gate.namespace().map(str::to_string))
        .set_metric_name(gate.metric_name().map(str::to_string))
        .set_dimensions(Some(gate.dimensions().to_vec()))
        .set_statistic(gate.statistic().cloned())
        .set_period(gate.period())
        .set_evaluation_periods(gate.evaluation_periods())
        .set_threshold(gate.threshold())
        .set_comparison_operator(gate.comparison_operator().cloned())
        .treat_missing_data("missing")
        .send()
        .await
        .expect("PutMetricAlarm");
}

#[tokio::test]
async fn the_gate_holds_the_failover_over_cloudwatchs_re_evaluations() {
    let w = world().await;
    // A witness on the gate's metric that lets missing data count: once it has gone
    // INSUFFICIENT_DATA, CloudWatch has re-evaluated past Rebound's datapoint.
    alarm_on_the_gates_metric(&w, "witness").await;
    w.run(&w.dns(), &w.request).await.expect("failover");
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&w.moto.config("us-west-2"));
    rebound_tests::wait::until("re-evaluated past the datapoint", || async {
        let out = cloudwatch.describe_alarms().alarm_names("witness").send().await.ok()?;
        (out.metric_alarms().first()?.state_value().map(|s| s.as_str()) == Some("INSUFFICIENT_DATA")).then_some(())
    })
    .await;
    assert_eq!(w.state().await, "ALARM", "the gate keeps the failover");
}

#[tokio::test]
async fn a_gate_that_would_not_hold_is_refused_before_anything_changes() {
    let w = world().await;
    // The gate itself letting missing data count: re-evaluated, it would undo the failover.
    alarm_on_the_gates_metric(&w, GATE).await;
    let mut ready = w.request.clone();
    ready["action"] = json!("readiness");
    for request in [&ready, &w.request] {
        let err = w.run(&w.dns(), request).await.expect_err("would not hold");
        assert_eq!(err.kind(), ErrorKind::PreconditionFailed, "{err}");
        assert!(err.to_string().contains("set TreatMissingData to ignore"), "{err}");
    }
    assert_eq!(w.state().await, "OK", "nothing changed");
    assert!(w.published().await.is_empty(), "nothing published");
}

#[tokio::test]
async fn a_missing_gate_is_a_precondition_and_no_other_gate_moves() {
    let w = world().await;
    let mut request = w.request.clone();
    request["context"]["plan"]["dns"]
        .as_array_mut()
        .expect("dns")
        .push(json!({
            "hostedZoneId": "Z0123456789ABCDEFGHIJ", "name": "www.orders.example.com.", "type": "A",
            "mode": "alarmHealthCheck", "alarmName": "no-such-gate", "healthCheckId": w.health_check
        }));
    let err = w.run(&w.dns(), &request).await.expect_err("missing alarm");
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed, "{err}");
    assert!(err.to_string().contains("no-such-gate"), "{err}");
    assert_eq!(w.state().await, "OK", "nothing half-changed");
}

#[tokio::test]
async fn readiness_refuses_a_health_check_that_follows_another_alarm() {
    let w = world().await;
    let other = seed::health_check_gate(&w.moto.config("us-east-1"), &w.moto.config("us-west-2"), "another-gate")
        .await
        .expect("other gate");
    let mut request = w.request.clone();
    request["action"] = json!("readiness");
    w.run(&w.dns(), &request).await.expect("wired right: ready");
    request["context"]["plan"]["dns"][0]["healthCheckId"] = json!(other);
    let err = w.run(&w.dns(), &request).await.expect_err("wired wrong");
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("follows another-gate in us-west-2, not orders-primary-gate"),
        "{text}"
    );
    assert_eq!(w.state().await, "OK");
}

#[tokio::test]
async fn with_route53_cut_the_gate_still_fails_over_and_upsert_names_the_control_plane() {
    let w = world().await;
    let proxy = FaultProxy::start(&w.moto).unwrap_or_else(|e| panic!("{e}"));
    proxy.set(&[Fault::reset().service("route53")]).expect("faults");
    let dns = DnsFailover::new(&proxy.regions());

    // The readiness check before a failover cannot verify the wiring and says so.
    let mut readiness = w.request.clone();
    readiness["action"] = json!("readiness");
    let ready = w.run(&dns, &readiness).await.expect("ready without Route 53");
    let detail = ready.actions[0].detail.clone().unwrap_or_default();
    assert!(
        detail.contains("WARNING: health check") && detail.contains("control plane"),
        "{detail}"
    );
    // A scheduled check retries later instead.
    readiness["context"]["path"] = json!("readinessCheck");
    let err = w.run(&dns, &readiness).await.expect_err("scheduled");
    assert_eq!(err.kind(), ErrorKind::Transient, "{err}");

    let route53_calls = || {
        proxy
            .calls()
            .into_iter()
            .filter(|c| c.service.as_deref() == Some("route53"))
            .collect::<Vec<_>>()
    };
    let before = route53_calls();
    assert!(
        before.iter().all(|c| c.operation.as_deref() == Some("GetHealthCheck")),
        "{before:?}"
    );
    w.run(&dns, &w.request).await.expect("failover without Route 53");
    assert_eq!(w.state().await, "ALARM");
    assert_eq!(route53_calls(), before, "the failover itself never calls Route 53");

    // The control-plane mode cannot: its error names what it needed.
    let upsert = event("dns-failover.json");
    let err = w.run(&dns, &upsert).await.expect_err("upsert needs Route 53");
    assert_eq!(err.kind(), ErrorKind::Transient, "{err}");
    assert!(
        err.to_string()
            .contains("Route 53's control plane (homed in us-east-1) did not answer"),
        "{err}"
    );
}
