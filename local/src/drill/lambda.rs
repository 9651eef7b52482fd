//! The drill with the six functions run as Lambda runs them (`--lambda`): their bootstraps behind
//! a local Lambda Runtime API, with the environment the template gives them in the drill's stack.

use super::*;

/// The stack's parameters and resources the template's environment names, as the drill has them.
fn drill_stack() -> std::collections::HashMap<String, String> {
    [
        ("PrimaryRegion", PRIMARY),
        ("RecoveryRegion", RECOVERY),
        ("RecoveryTable", TABLE),
        ("PlanLocation", PLAN_LOCATION),
        ("AllowStartPlan", "false"),
        ("AWS::AccountId", ACCOUNT),
        ("ReportBucket", REPORT_BUCKET),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The six functions' bootstraps behind a local Lambda, acting through `acting`; their logs go
/// to `report_dir/lambda/`.
pub(super) async fn as_lambda(
    bootstraps: &Path,
    acting: &SdkConfig,
    report_dir: &Path,
) -> Result<(Bound, crate::lambda::LocalLambda), DrillError> {
    let (specs, unset) = crate::functions::lambda_specs(bootstraps, &drill_stack(), acting)
        .await
        .map_err(DrillError::Lambda)?;
    for variable in &unset {
        eprintln!("drill: not set, as the drill has no such resource: {variable}");
    }
    let logs = report_dir.join("lambda");
    let lambda = crate::lambda::LocalLambda::start(specs, logs.clone())
        .await
        .map_err(|e| DrillError::Lambda(e.to_string()))?;
    eprintln!(
        "drill: the six functions run as Lambda runs them, from {}, invoked at {} (logs in {})",
        bootstraps.display(),
        lambda.endpoint(),
        logs.display()
    );
    Ok((crate::functions::through_lambda(&lambda.endpoint(), acting), lambda))
}
