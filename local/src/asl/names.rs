//! Execution names, as Step Functions' StartExecution takes them.

use super::StateError;

/// Step Functions' rule for an execution name (StartExecution, `name`): 1 to 80 characters,
/// none of them white space, brackets `< > { } [ ]`, wildcards `? *`, the characters
/// `" # % \ ^ | ~ ` $ & , ; : /`, or control characters (U+0000-001F, U+007F-009F).
pub fn check_execution_name(name: &str) -> Result<(), StateError> {
    let invalid = |why: String| {
        Err(StateError::new(
            "InvalidName",
            format!("execution name {name:?}: {why}"),
        ))
    };
    let length = name.chars().count();
    if !(1..=80).contains(&length) {
        return invalid(format!("must be 1 to 80 characters, not {length}"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(*c))
    {
        return invalid(format!("{c:?} is not allowed"));
    }
    Ok(())
}

/// A fresh name for a local execution: `<prefix>-<UTC time>-<random>`, unique per run as Step
/// Functions' names are, so that two runs never share a recovery id or a lease.
pub fn unique_execution_name(prefix: &str) -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "{prefix}-{}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
        &random[..12]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_step_functions_rules() {
        assert!(check_execution_name("run-20261130T101010Z-0123456789ab").is_ok());
        assert!(check_execution_name(&"a".repeat(80)).is_ok());
        for bad in ["", " x", "a/b", "a:b", "a*", "a\u{7}", "tab\there", "x{1}"] {
            let e = check_execution_name(bad).expect_err(bad);
            assert_eq!(e.error, "InvalidName", "{bad:?}");
        }
        assert!(check_execution_name(&"a".repeat(81))
            .expect_err("81")
            .cause
            .contains("1 to 80"));
    }

    #[test]
    fn fresh_names_are_valid_and_unique() {
        let a = unique_execution_name("run");
        let b = unique_execution_name("run");
        assert_ne!(a, b);
        assert!(check_execution_name(&a).is_ok(), "{a}");
    }
}
