//! Resources in other accounts: the role a plan's account names, assumed through STS for exactly
//! the calls on the resources that name it.

use std::collections::BTreeMap;

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use rebound_core::plan::{Account, RecoveryPlan};
use rebound_core::step::StepFault;

/// The credentials of `account`'s role: one `AssumeRole` through `sts` (the recovery region's
/// regional endpoint: the primary's may be the one that is down). A role that cannot be assumed
/// is told before any call on the account's resources, naming the account.
pub async fn assume(
    sts: &aws_sdk_sts::Client,
    name: &str,
    account: &Account,
    session: &str,
) -> Result<SharedCredentialsProvider, StepFault> {
    let out = sts
        .assume_role()
        .role_arn(&account.role_arn)
        .set_external_id(account.external_id.clone())
        .role_session_name(session_name(session))
        .send()
        .await
        .map_err(|e| {
            crate::error::aws_fault(
                format!("account {name} ({})", account.role_arn),
                "sts",
                "AssumeRole",
                &e,
            )
        })?;
    let credentials = out
        .credentials()
        .ok_or_else(|| StepFault::precondition(format!("account {name}"), "AssumeRole answered without credentials"))?;
    let expiry = std::time::SystemTime::try_from(*credentials.expiration()).ok();
    Ok(SharedCredentialsProvider::new(Credentials::new(
        credentials.access_key_id(),
        credentials.secret_access_key(),
        Some(credentials.session_token().to_string()),
        expiry,
        "rebound-assume-role",
    )))
}

/// STS's rule for a session name: 2-64 characters of `[\w+=,.@-]`; it shows in the other
/// account's CloudTrail as who acted.
fn session_name(session: &str) -> String {
    let cleaned: String = format!("rebound-{session}")
        .chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() || "_+=,.@-".contains(ch) {
                ch
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    cleaned
}

/// Route 53 as each hosted zone's account has it: Rebound's own client, or one acting as the
/// role of the account the zone's records name (assumed once per invocation).
#[derive(Debug, Clone)]
pub struct Route53s {
    own: aws_sdk_route53::Client,
    by_zone: BTreeMap<String, aws_sdk_route53::Client>,
}

impl Route53s {
    /// Every zone Rebound's own.
    pub fn own(own: &aws_sdk_route53::Client) -> Self {
        Route53s {
            own: own.clone(),
            by_zone: BTreeMap::new(),
        }
    }

    /// One client per account the plan's zones name, each like `own` but acting as its role.
    pub async fn for_plan(
        own: &aws_sdk_route53::Client,
        sts: &aws_sdk_sts::Client,
        plan: &RecoveryPlan,
        session: &str,
    ) -> Result<Self, StepFault> {
        let mut clients: BTreeMap<&str, aws_sdk_route53::Client> = BTreeMap::new();
        let mut by_zone = BTreeMap::new();
        for (zone, _) in plan.zones() {
            let Some((name, account)) = plan.zone_account(zone) else {
                continue;
            };
            if !clients.contains_key(name) {
                // Boxed: STS's future would weigh on the stack of every step that reads a zone.
                let credentials = Box::pin(assume(sts, name, account, session)).await?;
                let config = own.config().to_builder().credentials_provider(credentials).build();
                clients.insert(name, aws_sdk_route53::Client::from_conf(config));
            }
            if let Some(client) = clients.get(name) {
                by_zone.insert(zone.to_string(), client.clone());
            }
        }
        Ok(Route53s {
            own: own.clone(),
            by_zone,
        })
    }

    /// Rebound's own client.
    pub fn own_client(&self) -> &aws_sdk_route53::Client {
        &self.own
    }

    /// Whether any zone of `plan` is in another account (else no role is assumed).
    pub fn needed(plan: &RecoveryPlan) -> bool {
        plan.zones().any(|(_, account)| account.is_some())
    }

    /// The client for calls on `zone` and its records.
    pub fn zone(&self, zone: &str) -> &aws_sdk_route53::Client {
        self.by_zone.get(zone).unwrap_or(&self.own)
    }

    /// The client for a health check of the plan's records: its record's zone's account.
    pub fn health_check(&self, plan: &RecoveryPlan, id: &str) -> &aws_sdk_route53::Client {
        plan.dns
            .iter()
            .find(|r| r.health_check_id.as_deref() == Some(id))
            .map_or(&self.own, |r| self.zone(&r.hosted_zone_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_name_is_what_sts_accepts() {
        assert_eq!(session_name("4f1c-9a2b"), "rebound-4f1c-9a2b");
        assert_eq!(session_name("drill 7/a"), "rebound-drill-7-a");
        assert_eq!(session_name(&"x".repeat(100)).len(), 64);
    }
}
