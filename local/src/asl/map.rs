//! A Map state's iterations: the items (ItemsPath in JSONPath, Items in JSONata), each one's
//! input through ItemSelector (with `$$.Map.Item` / `$states.context.Map.Item`), and how many
//! run at once.

use serde_json::{json, Value};

use super::dataflow::{self, parameters};
use super::definition::{Language, MapState};
use super::jsonata::{self, States};
use super::scope::Scope;
use super::{path, StateError};

/// Each iteration's input, and how many run at once.
pub(super) fn iterations(
    name: &str,
    s: &MapState,
    language: Language,
    raw: &Value,
    scope: &Scope,
) -> Result<(Vec<Value>, usize), StateError> {
    let states = States {
        input: Some(raw),
        ..States::default()
    };
    let (effective, items, most) = match language {
        Language::JsonPath => {
            let effective = dataflow::input(&s.work.io, raw, scope)?;
            let items_path = s.items_path.as_deref().unwrap_or("$");
            let items = path::read(items_path, &effective, scope)?;
            let items = items
                .as_array()
                .ok_or_else(|| StateError::runtime(format!("ItemsPath {items_path} is not an array")))?
                .clone();
            // MaxConcurrencyPath must give a non-negative integer (Step Functions takes one
            // written as a string, "1", too) and fails the execution on anything else.
            let most = match &s.max_concurrency_path {
                Some(p) => {
                    let value = path::read(p, &effective, scope)?;
                    let number = value.as_str().and_then(|t| t.parse::<u64>().ok());
                    value.as_u64().or(number).ok_or_else(|| {
                        StateError::runtime(format!(
                            "{name}: the MaxConcurrencyPath {p} gives {value}, which is not a non-negative integer"
                        ))
                    })?
                }
                None => s.max_concurrency.as_ref().and_then(Value::as_u64).unwrap_or(0),
            };
            (effective, items, most)
        }
        Language::Jsonata => {
            let items = match &s.items {
                Some(i) => jsonata::template(i, "Items", states, scope)?,
                None => raw.clone(),
            };
            let Value::Array(items) = items else {
                return Err(StateError::new(
                    jsonata::QUERY_EVALUATION_ERROR,
                    format!("{name}: the Items gives {items}, which is not an array"),
                ));
            };
            let most = match &s.max_concurrency {
                Some(n) if jsonata::expression(n).is_some() => {
                    let value = jsonata::template(n, "MaxConcurrency", states, scope)?;
                    value.as_u64().ok_or_else(|| {
                        StateError::new(
                            jsonata::QUERY_EVALUATION_ERROR,
                            format!("{name}: the MaxConcurrency gives {value}, which is not a non-negative integer"),
                        )
                    })?
                }
                Some(n) => n.as_u64().unwrap_or(0),
                None => 0,
            };
            (raw.clone(), items, most)
        }
    };
    let concurrency = match most {
        0 => items.len().max(1),
        n => usize::try_from(n).unwrap_or(1),
    };
    let selector = s.item_selector.as_ref().or(s.work.results.parameters.as_ref());
    let mut inputs = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let mut ctx = scope.context.clone();
        ctx["Map"] = json!({ "Item": { "Index": index, "Value": item } });
        let iteration = scope.with_context(ctx);
        inputs.push(match (selector, language) {
            (None, _) => item,
            (Some(sel), Language::JsonPath) => parameters(sel, &effective, &iteration)?,
            (Some(sel), Language::Jsonata) => jsonata::template(sel, "ItemSelector", states, &iteration)?,
        });
    }
    Ok((inputs, concurrency))
}
