//! Task states: the resource's handler called with the task's input, under the task's timeout;
//! `lambda:invoke` wraps the result as Lambda's API answers, and `.waitForTaskToken` waits for
//! the answer to its token (`Approval`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::dataflow::{jsonata_field, parameters_or};
use super::definition::{Language, Machine, State, Task};
use super::jsonata::{self, States};
use super::scope::Scope;
use super::timeline::{ms, us};
use super::{path, Approval, Interpreter, StateError, TaskHandler};
use std::sync::Arc;

/// The Lambda integration, the one service integration this runner carries out.
const LAMBDA_INVOKE: &str = "arn:aws:states:::lambda:invoke";

/// What a resource this runner does not carry out is, for the refusal.
fn resource_kind(resource: &str) -> String {
    if let Some(integration) = resource.strip_prefix("arn:aws:states:::") {
        return format!("the {integration} integration");
    }
    if resource.contains(":activity:") {
        return "an activity".into();
    }
    "a resource no handler is bound for".into()
}

impl Interpreter {
    /// Every Task's resource is one this runner carries out (`lambda:invoke`, or a resource a
    /// handler is bound to); another service's integration or an activity is refused before
    /// the run starts, naming it, rather than failing halfway through.
    pub(super) fn check_resources(&self, machine: &Machine, at: &str) -> Result<(), StateError> {
        for (name, state) in &machine.states {
            let at = format!("{at}/States/{name}");
            match state {
                State::Task(t) => {
                    let resource = self.substitute(&t.resource);
                    let carried = resource == LAMBDA_INVOKE
                        || resource == format!("{LAMBDA_INVOKE}.waitForTaskToken")
                        || self.tasks.contains_key(&resource);
                    if !carried {
                        return Err(StateError::new(
                            "States.InvalidDefinition",
                            format!(
                                "SCHEMA_VALIDATION_FAILED: the resource {resource} ({}) is not carried out by the local runner at {at}/Resource",
                                resource_kind(&resource)
                            ),
                        ));
                    }
                }
                State::Parallel(p) => {
                    for (i, branch) in p.branches.iter().enumerate() {
                        self.check_resources(branch, &format!("{at}/Branches[{i}]"))?;
                    }
                }
                State::Map(m) => self.check_resources(&m.item_processor, &format!("{at}/ItemProcessor"))?,
                _ => {}
            }
        }
        Ok(())
    }

    /// One attempt at a Task state: Parameters (JSONPath) or Arguments (JSONata) applied, the
    /// handler's result raw.
    pub(super) async fn task(
        &self,
        s: &Task,
        language: Language,
        effective: Value,
        scope: &Scope,
        external_us: &AtomicU64,
    ) -> Result<Value, StateError> {
        let resource = self.substitute(&s.resource);
        let wait_for_token = resource.ends_with(".waitForTaskToken");
        let mut context = scope.context.clone();
        let token = format!("local-token-{}", uuid::Uuid::new_v4());
        if wait_for_token {
            context["Task"] = json!({ "Token": token });
        }
        let scope = scope.with_context(context);
        self.recorder.history(3)?;
        let states = States {
            input: Some(&effective),
            ..States::default()
        };
        let input = match language {
            Language::JsonPath => parameters_or(s.work.results.parameters.as_ref(), effective.clone(), &scope)?,
            Language::Jsonata => jsonata_field(
                s.work.results.arguments.as_ref(),
                "Arguments",
                &effective,
                states,
                &scope,
            )?,
        };
        self.recorder.within_payload_limit("the task's input", &input)?;
        let (handler_name, payload, wrap) = if resource.starts_with(LAMBDA_INVOKE) {
            let function = input
                .get("FunctionName")
                .and_then(Value::as_str)
                .map(|f| self.substitute(f))
                .ok_or_else(|| StateError::runtime("lambda:invoke without FunctionName"))?;
            (
                function,
                input.get("Payload").cloned().unwrap_or(json!({})),
                !wait_for_token,
            )
        } else {
            (resource.clone(), input, false)
        };
        let handler: TaskHandler = match (self.tasks.get(&handler_name), &self.invoker) {
            (Some(handler), _) => handler.clone(),
            // Another function (a plan's custom action): through the Lambda API.
            (None, Some(invoker)) if resource.starts_with(LAMBDA_INVOKE) => {
                let invoker = invoker.clone();
                let function = handler_name.clone();
                Arc::new(move |payload: Value| invoker(function.clone(), payload))
            }
            _ => return Err(StateError::runtime(format!("no handler for resource {handler_name}"))),
        };
        let timeout = match (&s.timeout_seconds, s.timeout_seconds_path.as_deref()) {
            (Some(t), _) if jsonata::expression(t).is_some() => {
                let value = jsonata::template(t, "TimeoutSeconds", states, &scope)?;
                Some(value.as_u64().filter(|n| *n >= 1).ok_or_else(|| {
                    StateError::new(
                        jsonata::QUERY_EVALUATION_ERROR,
                        format!("the TimeoutSeconds gives {value}, which is not a positive integer"),
                    )
                })?)
            }
            // Checked on load.
            (Some(t), _) => t.as_u64(),
            // It must give a positive integer: Step Functions fails the execution otherwise.
            (None, Some(p)) => {
                let value = path::read(p, &effective, &scope)?;
                Some(value.as_u64().filter(|n| *n >= 1).ok_or_else(|| {
                    StateError::runtime(format!(
                        "the TimeoutSecondsPath {p} gives {value}, which is not a positive integer"
                    ))
                })?)
            }
            _ => None,
        };
        let started = Instant::now();
        let approval = self.approval.clone();
        // For a task token, the timeout covers the handler and the wait for the answer.
        let call = async move {
            let result = handler(payload).await?;
            if !wait_for_token {
                return Ok(result);
            }
            match approval {
                Approval::Auto => Ok(json!({ "approved": true, "by": "rebound --auto-approve" })),
                Approval::Refuse(cause) => Err(StateError::new(rebound_shared::error::APPROVAL_REJECTED, cause)),
                Approval::Await(dir) => crate::approvals::wait(&dir, &token).await,
            }
        };
        let result = match timeout {
            Some(t) => tokio::time::timeout(Duration::from_secs(t), call)
                .await
                .unwrap_or_else(|_| {
                    Err(StateError::new(
                        "States.Timeout",
                        format!("the task did not finish within {t} s"),
                    ))
                }),
            None => call.await,
        };
        external_us.fetch_add(us(started.elapsed()), Ordering::Relaxed);
        self.recorder.with(|t| t.task_ms += ms(started.elapsed()));
        let result = result?;
        self.recorder.within_payload_limit("the task's result", &result)?;
        Ok(if wrap {
            json!({ "ExecutedVersion": "$LATEST", "Payload": result, "StatusCode": 200 })
        } else {
            result
        })
    }

    /// `${Name}` → its value, as SAM's DefinitionSubstitutions.
    fn substitute(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (k, v) in &self.substitutions {
            out = out.replace(&format!("${{{k}}}"), v);
        }
        out
    }
}
