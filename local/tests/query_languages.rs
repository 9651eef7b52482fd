//! Workflow variables (`Assign`, `$name`) in both query languages, and JSONata states, run by
//! the interpreter as Step Functions runs them; the developer guide's examples with the results
//! it documents; what the runner lacks refused on load, naming it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rebound::asl::{validate, Interpreter, StateError, TaskHandler};
use serde_json::{json, Value};

const FN: &str = "arn:aws:lambda:us-east-1:123456789012:function:work";

/// An interpreter whose one task echoes its input as `{"got": input}` (failing with `Boom`
/// when the input has `"fail": true`), recording each input.
fn interpreter() -> (Interpreter, Arc<Mutex<Vec<Value>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let work: TaskHandler = Arc::new(move |input: Value| {
        if let Ok(mut s) = record.lock() {
            s.push(input.clone());
        }
        Box::pin(async move {
            if input.get("fail") == Some(&json!(true)) {
                return Err(StateError::new("Boom", "asked to fail"));
            }
            Ok(json!({ "got": input }))
        })
    });
    let mut tasks = HashMap::new();
    tasks.insert(FN.to_string(), work);
    let mut i = Interpreter::new(tasks, HashMap::new());
    i.time_scale = 0.0;
    (i, seen)
}

async fn run(definition: Value, input: Value) -> Result<Value, StateError> {
    let (i, _) = interpreter();
    i.execute(&definition, input, "exec-1").await
}

fn refused(definition: Value) -> String {
    let err = validate(&definition).expect_err("refused on load");
    assert_eq!(err.error, "States.InvalidDefinition", "{}", err.cause);
    err.cause
}

#[tokio::test]
async fn a_variable_assigned_in_one_state_is_read_in_later_ones_in_every_jsonpath_field() {
    let def = json!({"StartAt": "Keep", "States": {
        "Keep": {"Type": "Pass", "Parameters": {"id.$": "$.order.id", "lines.$": "$.order.lines"},
                 "Assign": {"order.$": "$", "limit": 2, "wait": 0, "label.$": "States.Format('order {}', $.id)"},
                 "ResultPath": null, "Next": "Pick"},
        "Pick": {"Type": "Choice", "Choices": [
            {"Variable": "$order.id", "NumericGreaterThanPath": "$limit", "Next": "Hold"}], "Default": "Lost"},
        "Hold": {"Type": "Wait", "SecondsPath": "$wait", "Next": "Work"},
        "Work": {"Type": "Task", "Resource": FN, "InputPath": "$order",
                 "Parameters": {"first.$": "$order.lines[0]", "all.$": "$order.lines[*].sku",
                                "label.$": "$label", "n.$": "States.ArrayLength($order.lines)", "in.$": "$.id"},
                 "ResultSelector": {"sent.$": "$.got"}, "Next": "Each"},
        "Each": {"Type": "Map", "ItemsPath": "$order.lines", "ItemSelector": {"sku.$": "$$.Map.Item.Value.sku", "of.$": "$label"},
                 "ItemProcessor": {"StartAt": "Line", "States": {"Line": {"Type": "Pass", "End": true}}},
                 "ResultPath": "$.lines", "OutputPath": "$", "End": true},
        "Lost": {"Type": "Fail", "Error": "Lost"}
    }});
    let input = json!({"order": {"id": 7, "lines": [{"sku": "a"}, {"sku": "b"}]}});
    let out = run(def, input.clone()).await.expect("succeeds");
    assert_eq!(
        out["sent"],
        json!({"first": {"sku": "a"}, "all": ["a", "b"], "label": "order 7", "n": 2, "in": 7})
    );
    assert_eq!(
        out["lines"],
        json!([{"sku": "a", "of": "order 7"}, {"sku": "b", "of": "order 7"}])
    );
}

#[tokio::test]
async fn an_assign_reads_the_values_the_state_was_entered_with_and_takes_effect_after_it() {
    let def = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Assign": {"x": 1}, "Next": "B"},
        "B": {"Type": "Pass", "Parameters": {"seen.$": "$x"}, "Assign": {"x": 2, "before.$": "$x"}, "Next": "C"},
        "C": {"Type": "Pass", "Parameters": {"x.$": "$x", "before.$": "$before", "b.$": "$.seen"}, "End": true}
    }});
    assert_eq!(
        run(def, json!({})).await.ok(),
        Some(json!({"x": 2, "before": 1, "b": 1}))
    );
}

#[tokio::test]
async fn a_task_assigns_from_its_selected_result_and_a_catcher_from_the_error() {
    let def = json!({"StartAt": "Ok", "States": {
        "Ok": {"Type": "Task", "Resource": FN, "Parameters": {"v": 1},
               "ResultSelector": {"v.$": "$.got.v"}, "Assign": {"fromResult.$": "$.v"}, "Next": "Bad"},
        "Bad": {"Type": "Task", "Resource": FN, "Parameters": {"fail": true}, "Assign": {"never": true},
                "Catch": [{"ErrorEquals": ["Boom"], "ResultPath": "$.error", "Assign": {"why.$": "$.Cause", "what.$": "$.Error"}, "Next": "Report"}],
                "End": true},
        "Report": {"Type": "Pass", "Parameters": {"r.$": "$fromResult", "why.$": "$why", "what.$": "$what", "error.$": "$.error.Error"}, "Next": "Never"},
        "Never": {"Type": "Choice", "Choices": [{"Variable": "$never", "IsPresent": true, "Next": "Wrong"}], "Default": "Done"},
        "Wrong": {"Type": "Fail", "Error": "Wrong"},
        "Done": {"Type": "Succeed"}
    }});
    let out = run(def, json!({})).await.expect("succeeds");
    assert_eq!(
        out,
        json!({"r": 1, "why": "asked to fail", "what": "Boom", "error": "Boom"})
    );
}

#[tokio::test]
async fn a_choice_rule_assigns_its_own_and_the_default_the_states() {
    let def = || {
        json!({"StartAt": "C", "States": {
            "C": {"Type": "Choice", "Assign": {"path": "default"}, "Choices": [
                {"Variable": "$.n", "NumericEquals": 1, "Assign": {"path": "one", "n.$": "$.n"}, "Next": "D"}], "Default": "D"},
            "D": {"Type": "Pass", "Parameters": {"path.$": "$path"}, "End": true}
        }})
    };
    assert_eq!(run(def(), json!({"n": 1})).await.ok(), Some(json!({"path": "one"})));
    assert_eq!(run(def(), json!({"n": 2})).await.ok(), Some(json!({"path": "default"})));
}

#[tokio::test]
async fn a_branch_reads_its_parents_variables_and_keeps_its_own() {
    let def = json!({"StartAt": "Set", "States": {
        "Set": {"Type": "Pass", "Assign": {"region": "us-west-2"}, "Next": "Both"},
        "Both": {"Type": "Parallel", "Branches": [
            {"StartAt": "B1", "States": {
                "B1": {"Type": "Pass", "Assign": {"mine": "b1"}, "Next": "B1b"},
                "B1b": {"Type": "Pass", "Parameters": {"r.$": "$region", "m.$": "$mine"}, "End": true}}},
            {"StartAt": "B2", "States": {
                "B2": {"Type": "Pass", "Parameters": {"r.$": "$region"}, "End": true}}}
        ], "Next": "After"},
        "After": {"Type": "Pass", "Parameters": {"mine.$": "$mine"}, "End": true}
    }});
    let err = run(def.clone(), json!({}))
        .await
        .expect_err("the branch's variable stays in the branch");
    assert_eq!(err.error, "States.Runtime");
    assert!(err.cause.contains("'$mine'"), "{}", err.cause);

    let mut reads = def;
    reads["States"]["After"] = json!({"Type": "Pass", "End": true});
    let out = run(reads, json!({})).await.expect("succeeds");
    assert_eq!(out, json!([{"r": "us-west-2", "m": "b1"}, {"r": "us-west-2"}]));
}

#[test]
fn a_branch_or_iteration_may_not_assign_a_variable_of_an_enclosing_scope() {
    let cause = refused(json!({"StartAt": "Set", "States": {
        "Set": {"Type": "Pass", "Assign": {"count": 0}, "Next": "Each"},
        "Each": {"Type": "Map", "ItemProcessor": {"StartAt": "Inc", "States": {
            "Inc": {"Type": "Pass", "Assign": {"count": 1}, "End": true}}}, "End": true}
    }}));
    assert!(
        cause.contains("/States/Each/ItemProcessor/States/Inc/Assign"),
        "{cause}"
    );
    assert!(
        cause.contains("'count'") && cause.contains("enclosing scope"),
        "{cause}"
    );
    let cause = refused(json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Assign": {"states": 1}, "End": true}}}));
    assert!(cause.contains("'states' is not a variable name"), "{cause}");
    let cause = refused(json!({"StartAt": "A", "States": {
        "A": {"Type": "Succeed", "Assign": {"x": 1}}}}));
    assert!(cause.contains("/States/A/Assign"), "{cause}");
}

#[tokio::test]
async fn an_unknown_variable_and_one_too_large_fail_the_execution() {
    let err = run(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {"x.$": "$nope"}, "End": true}}}),
        json!({}),
    )
    .await
    .expect_err("undefined");
    assert_eq!(err.error, "States.Runtime");
    assert!(err.cause.contains("'$nope'"), "{}", err.cause);

    let big = "x".repeat(200_000);
    let err = run(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Assign": {"a.$": "$.big", "b.$": "$.big"}, "End": true}}}),
        json!({ "big": big }),
    )
    .await
    .expect_err("over 256 KiB in one Assign");
    assert_eq!(err.error, "States.DataLimitExceeded");
}

/// A JSONata machine using every JSONata field: Arguments, Output, Assign, Condition, Items,
/// ItemSelector, MaxConcurrency, Wait's Seconds, Fail's Error and Cause.
fn jsonata_machine() -> Value {
    json!({"QueryLanguage": "JSONata", "StartAt": "Start", "States": {
        "Start": {"Type": "Pass", "Assign": {"customer": "{% $states.input.customer %}", "total": "{% $sum($states.input.lines.price) %}"},
                  "Output": {"lines": "{% $states.input.lines %}"}, "Next": "Big?"},
        "Big?": {"Type": "Choice", "Choices": [
            {"Condition": "{% $total > 100 %}", "Assign": {"tier": "gold"}, "Next": "Pause"}],
            "Default": "Pause", "Assign": {"tier": "standard"}},
        "Pause": {"Type": "Wait", "Seconds": "{% $count($states.input.lines) %}", "Next": "Price"},
        "Price": {"Type": "Task", "Resource": FN,
                  "Arguments": {"who": "{% $customer %}", "tier": "{% $tier %}", "at": "{% $states.context.State.Name %}", "fixed": 1},
                  "Output": "{% $states.input %}", "Assign": {"priced": "{% $states.result.got.who %}"}, "Next": "Lines"},
        "Lines": {"Type": "Map", "Items": "{% $states.input.lines %}", "MaxConcurrency": "{% 1 %}",
                  "ItemSelector": {"sku": "{% $states.context.Map.Item.Value.sku %}", "index": "{% $states.context.Map.Item.Index %}", "who": "{% $customer %}"},
                  "ItemProcessor": {"StartAt": "Line", "States": {"Line": {"Type": "Pass", "Output": "{% $states.input.sku & '@' & $string($states.input.index) %}", "End": true}}},
                  "Output": {"skus": "{% $states.result %}", "priced": "{% $priced %}", "tier": "{% $tier %}"}, "Next": "Done?"},
        "Done?": {"Type": "Choice", "Choices": [{"Condition": "{% $count($states.input.skus) < 2 %}", "Next": "Few"}], "Default": "End"},
        "Few": {"Type": "Fail", "Error": "{% 'Few' & 'Lines' %}", "Cause": "{% 'for ' & $customer %}"},
        "End": {"Type": "Succeed"}
    }})
}

#[tokio::test]
async fn a_jsonata_machine_evaluates_every_jsonata_field() {
    let (i, seen) = interpreter();
    let input = json!({"customer": "ana", "lines": [{"sku": "a", "price": 80}, {"sku": "b", "price": 30}]});
    let out = i.execute(&jsonata_machine(), input, "exec-1").await.expect("succeeds");
    assert_eq!(out, json!({"skus": ["a@0", "b@1"], "priced": "ana", "tier": "gold"}));
    let inputs = seen.lock().map(|s| s.clone()).unwrap_or_default();
    assert_eq!(
        inputs,
        vec![json!({"who": "ana", "tier": "gold", "at": "Price", "fixed": 1})]
    );

    let err = i
        .execute(
            &jsonata_machine(),
            json!({"customer": "bo", "lines": [{"sku": "z", "price": 1}]}),
            "exec-2",
        )
        .await
        .expect_err("one line");
    assert_eq!(err, StateError::new("FewLines", "for bo"));

    // JSONata's $sum of nothing is nothing (undefined), which no field may be.
    let err = i
        .execute(&jsonata_machine(), json!({"customer": "cy", "lines": []}), "exec-3")
        .await
        .expect_err("no lines");
    assert_eq!(err.error, "States.QueryEvaluationError");
    assert!(
        err.cause.contains("'Assign/total' returned nothing (undefined)"),
        "{}",
        err.cause
    );
}

#[tokio::test]
async fn a_query_evaluation_error_is_caught_like_any_error_and_fails_the_execution_when_not() {
    let def = |catch: bool| {
        let mut task =
            json!({"Type": "Task", "Resource": FN, "Arguments": {"x": "{% $states.input.missing %}"}, "End": true});
        if catch {
            task["Catch"] = json!([{"ErrorEquals": ["States.QueryEvaluationError"], "Next": "Handled",
                "Output": {"caught": "{% $states.errorOutput.Error %}", "input": "{% $states.input %}"}, "Assign": {"failed": true}}]);
        }
        json!({"QueryLanguage": "JSONata", "StartAt": "T", "States": {
            "T": task,
            "Handled": {"Type": "Pass", "Output": {"caught": "{% $states.input.caught %}", "failed": "{% $failed %}"}, "End": true}
        }})
    };
    let err = run(def(false), json!({"a": 1})).await.expect_err("uncaught");
    assert_eq!(err.error, "States.QueryEvaluationError");
    assert_eq!(
        err.cause,
        "An error occurred while executing the state 'T' (entered at the event id #2). The JSONata expression '$states.input.missing' specified for the field 'Arguments/x' returned nothing (undefined)."
    );
    let out = run(def(true), json!({"a": 1})).await.expect("caught");
    assert_eq!(out, json!({"caught": "States.QueryEvaluationError", "failed": true}));
}

#[tokio::test]
async fn a_jsonpath_machine_may_have_jsonata_states_sharing_its_variables() {
    let def = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Parameters": {"n.$": "$.n"}, "Assign": {"n.$": "$.n"}, "Next": "B"},
        "B": {"Type": "Pass", "QueryLanguage": "JSONata", "Output": {"double": "{% $n * 2 %}"}, "Assign": {"m": "{% $n + 1 %}"}, "Next": "C"},
        "C": {"Type": "Pass", "Parameters": {"double.$": "$.double", "m.$": "$m"}, "End": true}
    }});
    assert_eq!(run(def, json!({"n": 4})).await.ok(), Some(json!({"double": 8, "m": 5})));
}

#[test]
fn each_state_takes_only_its_query_languages_fields() {
    let cause = refused(json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
        "A": {"Type": "Pass", "InputPath": "$.a", "End": true}}}));
    assert!(
        cause.contains("/States/A/InputPath") && cause.contains("JSONPath field"),
        "{cause}"
    );
    let cause = refused(json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Output": {"a": 1}, "End": true}}}));
    assert!(
        cause.contains("/States/A/Output") && cause.contains("JSONata field"),
        "{cause}"
    );
    let cause = refused(json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
        "A": {"Type": "Pass", "QueryLanguage": "JSONPath", "End": true}}}));
    assert!(cause.contains("may not use JSONPath"), "{cause}");
    let cause = refused(json!({"QueryLanguage": "JSONata", "StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.a", "IsPresent": true, "Next": "D"}]},
        "D": {"Type": "Succeed"}}}));
    assert!(cause.contains("/States/C/Choices[0]/Variable"), "{cause}");
}

#[test]
fn what_the_runner_lacks_in_jsonata_is_refused_on_load_naming_it() {
    let with = |output: &str| {
        json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
            "A": {"Type": "Pass", "Output": {"v": output}, "End": true}}})
    };
    let cause = refused(with("{% $average([1, 2]) %}"));
    assert!(
        cause.contains("$average") && cause.contains("/States/A/Output/v"),
        "{cause}"
    );
    assert!(refused(with("{% $random(42) %}")).contains("seed"));
    assert!(refused(with("{% 1 + %}")).contains("not a JSONata expression"));
    validate(&with("{% $random() %}")).expect("an unseeded $random is carried out");
}

/// The developer guide's examples ("Transforming data with JSONata in Step Functions",
/// "Passing data between states with variables"), each with the result the guide gives; the
/// hash's is the digest Python's hashlib gives for the same text.
#[tokio::test]
async fn the_developer_guides_examples_give_the_results_it_documents() {
    let cases = [
        ("$partition([1,2,3,4], 2)", json!([[1, 2], [3, 4]])),
        ("$range(0, 10, 2)", json!([0, 2, 4, 6, 8, 10])),
        (
            "$hash(\"Mary had a little lamb.\", \"SHA-512\")",
            json!("35154f15409907fd431e20abad63efb35f7992c71a847e70db0aa95d13d51279d489c6a4bfbfa57f03e114bac5808a8aff1c666818c5faf8225ce4c27d22bfc3"),
        ),
        ("$parse('{\"key\": \"value\"}')", json!({"key": "value"})),
    ];
    for (expression, expected) in cases {
        let def = json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
            "A": {"Type": "Pass", "Output": format!("{{% {expression} %}}"), "End": true}}});
        assert_eq!(run(def, json!({})).await.ok(), Some(expected), "{expression}");
    }
    // Variables: "Assign": {"productName": "product1", "count": 42, "available": true}, then
    // read in a later state's Parameters.
    let def = json!({"StartAt": "Assign", "States": {
        "Assign": {"Type": "Pass", "Assign": {"productName": "product1", "count": 42, "available": true}, "Next": "Read"},
        "Read": {"Type": "Pass", "Parameters": {"product.$": "$productName", "n.$": "$count", "ok.$": "$available"}, "End": true}
    }});
    assert_eq!(
        run(def, json!({})).await.ok(),
        Some(json!({"product": "product1", "n": 42, "ok": true}))
    );
}
