//! The other AWS accounts some of the plan's resources live in (a DNS zone in a networking
//! account, for one), and the role Rebound assumes in each for exactly the calls on them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::checker::Checker;

/// A role in another account, assumed through STS for the resources that name the account.
/// The role's trust policy admits Rebound's function roles (and requires `externalId` when
/// given); its permissions are what those calls need (template.yaml, "Other accounts").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Account {
    pub role_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

impl Account {
    /// The account the role is in (`arn:PARTITION:iam::ACCOUNT:role/NAME`).
    pub fn id(&self) -> &str {
        self.role_arn.split(':').nth(4).unwrap_or_default()
    }
}

impl super::RecoveryPlan {
    /// Every hosted zone the plan changes (its records', its CNAME writer endpoints') and the
    /// account each names (None: Rebound's own).
    pub fn zones(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        let records = self
            .dns
            .iter()
            .map(|r| (r.hosted_zone_id.as_str(), r.account.as_deref()));
        let endpoints = self.writer_endpoints.iter().filter_map(|e| match e {
            super::WriterEndpoint::Cname {
                hosted_zone_id,
                account,
                ..
            } => Some((hosted_zone_id.as_str(), account.as_deref())),
            _ => None,
        });
        records.chain(endpoints)
    }

    /// The account a hosted zone is in, as the plan names it: None for Rebound's own.
    pub fn zone_account(&self, zone: &str) -> Option<(&str, &Account)> {
        let name = self.zones().find(|(z, _)| *z == zone)?.1?;
        Some((name, self.accounts.get(name)?))
    }
}

/// A role ARN as IAM gives it: `arn:PARTITION:iam::ACCOUNT:role/PATH/NAME`, the name 1-64 of
/// IAM's characters.
pub fn is_role_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [arn_word, partition, "iam", "", account, resource] = parts[..] else {
        return false;
    };
    let Some(path_and_name) = resource.strip_prefix("role/") else {
        return false;
    };
    let name = path_and_name.rsplit('/').next().unwrap_or_default();
    arn_word == "arn"
        && partition.starts_with("aws")
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "+=,.@_-".contains(ch))
}

/// STS's rule for an external ID: 2-1224 characters of `[\w+=,.@:/-]`.
pub fn is_external_id(id: &str) -> bool {
    (2..=1224).contains(&id.len())
        && id
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "_+=,.@:/-".contains(ch))
}

/// A resource's `account`: one of the plan's `accounts` by name (reported otherwise).
pub(super) fn account_ref(
    c: &mut Checker,
    path: &str,
    resource: &Map<String, Value>,
    plan: &Map<String, Value>,
) -> Option<String> {
    let account = c.string(path, resource, "account", false)?;
    if !plan
        .get("accounts")
        .and_then(Value::as_object)
        .is_some_and(|known| known.contains_key(account))
    {
        c.report(
            &format!("{path}.account"),
            format!("must name one of the plan's accounts, got '{account}'"),
        );
    }
    Some(account.to_string())
}

/// `accounts`: each a name resources refer to, and a role in another account to assume.
pub(super) fn check_accounts(c: &mut Checker, plan: &Map<String, Value>) {
    let Some(accounts) = plan.get("accounts") else {
        return;
    };
    let Some(accounts) = accounts.as_object() else {
        c.report("accounts", "must be an object of account names");
        return;
    };
    for (name, account) in accounts {
        let path = format!("accounts.{name}");
        if name.is_empty()
            || name.len() > 64
            || !name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
        {
            c.report(&path, "an account's name is 1-64 letters, digits, '-' or '_'");
        }
        let Some(a) = c.object(&path, account, &["roleArn", "externalId"]) else {
            continue;
        };
        if let Some(arn) = c.string(&path, a, "roleArn", true) {
            if !is_role_arn(arn) {
                c.report(
                    &format!("{path}.roleArn"),
                    "must be an IAM role's ARN: arn:aws:iam::ACCOUNT:role/NAME",
                );
            }
        }
        if let Some(id) = c.string(&path, a, "externalId", false) {
            if !is_external_id(id) {
                c.report(
                    &format!("{path}.externalId"),
                    "must be 2-1224 letters, digits or any of _+=,.@:/-",
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_arn_and_an_external_id_are_as_iam_and_sts_take_them() {
        assert!(is_role_arn("arn:aws:iam::222222222222:role/rebound-dns"));
        assert!(is_role_arn("arn:aws:iam::222222222222:role/ops/rebound-dns"));
        assert!(!is_role_arn("arn:aws:iam::22222222222:role/rebound-dns"), "11 digits");
        assert!(!is_role_arn("arn:aws:iam::222222222222:user/rebound"));
        assert!(!is_role_arn("arn:aws:iam::222222222222:role/"));
        assert!(
            !is_role_arn("arn:aws:iam:us-east-1:222222222222:role/x"),
            "IAM is global"
        );
        assert!(is_external_id("rebound-7f3a"));
        assert!(!is_external_id("x"));
        assert!(!is_external_id("has space"));
        let account = Account {
            role_arn: "arn:aws:iam::222222222222:role/rebound-dns".into(),
            external_id: None,
        };
        assert_eq!(account.id(), "222222222222");
    }
}
