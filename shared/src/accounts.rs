//! Resources in other accounts: the role a plan's account names, assumed through STS for exactly
//! the calls on the resources that name it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use rebound_core::plan::{Account, RecoveryPlan};

use rebound_core::step::StepFault;
use tokio::sync::Mutex;

/// STS in the recovery region (the primary's endpoint may be the one that is down), and the
/// roles assumed through it. Each account's role is assumed once per recovery while its
/// credentials last, however many reads of an invocation (or invocations of a warm function)
/// need it: one `AssumeRole` each, one session in the other account's CloudTrail.
#[derive(Debug, Clone)]
pub struct Roles {
    sts: aws_sdk_sts::Client,
    held: Arc<Mutex<BTreeMap<Session, Held>>>,
}

/// Who is assumed for whom: the recovery's session name and the role (with its external id).
type Session = (String, String, Option<String>);

#[derive(Debug, Clone)]
struct Held {
    credentials: SharedCredentialsProvider,
    expiry: Option<SystemTime>,
}

/// Credentials this close to their expiry are assumed again: an invocation's calls must not
/// outlive them.
const RENEW_BEFORE: Duration = Duration::from_secs(300);

impl Roles {
    /// `config` is the recovery region's.
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Roles {
            sts: aws_sdk_sts::Client::new(config),
            held: Arc::default(),
        }
    }

    /// The credentials of the role of the plan's account `name`. A role that cannot be assumed
    /// is told before any call on the account's resources, naming the account.
    pub async fn assume(
        &self,
        plan: &RecoveryPlan,
        name: &str,
        session: &str,
    ) -> Result<SharedCredentialsProvider, StepFault> {
        let account = plan
            .accounts
            .get(name)
            .ok_or_else(|| StepFault::precondition(format!("account {name}"), "the plan's accounts do not name it"))?;
        let key = (
            session.to_string(),
            account.role_arn.clone(),
            account.external_id.clone(),
        );
        // Held across the call, so that reads running side by side wait for one AssumeRole.
        let mut held = self.held.lock().await;
        let now = SystemTime::now();
        held.retain(|_, h| h.expiry.is_none_or(|at| at > now + RENEW_BEFORE));
        if let Some(h) = held.get(&key) {
            return Ok(h.credentials.clone());
        }
        let fresh = Box::pin(assume_held(&self.sts, name, account, session)).await?;
        held.insert(key, fresh.clone());
        Ok(fresh.credentials)
    }

    /// The credentials of each account `names` names.
    pub async fn assume_each(
        &self,
        plan: &RecoveryPlan,
        names: &[&str],
        session: &str,
    ) -> Result<BTreeMap<String, SharedCredentialsProvider>, StepFault> {
        let mut assumed = BTreeMap::new();
        for &name in names {
            if !assumed.contains_key(name) {
                assumed.insert(name.to_string(), self.assume(plan, name, session).await?);
            }
        }
        Ok(assumed)
    }
}

/// The credentials of one `AssumeRole` of `account`'s role (named `name`), through `sts`.
pub async fn assume(
    sts: &aws_sdk_sts::Client,
    name: &str,
    account: &Account,
    session: &str,
) -> Result<SharedCredentialsProvider, StepFault> {
    Ok(assume_held(sts, name, account, session).await?.credentials)
}

async fn assume_held(
    sts: &aws_sdk_sts::Client,
    name: &str,
    account: &Account,
    session: &str,
) -> Result<Held, StepFault> {
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
    let expiry = SystemTime::try_from(*credentials.expiration()).ok();
    Ok(Held {
        credentials: SharedCredentialsProvider::new(Credentials::new(
            credentials.access_key_id(),
            credentials.secret_access_key(),
            Some(credentials.session_token().to_string()),
            expiry,
            "rebound-assume-role",
        )),
        expiry,
    })
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

/// A client rebuilt to act as a role: the same region, endpoint, retries and timeouts, with the
/// role's credentials. `as_role!(aws_sdk_ecs::Client, &ecs, &credentials)`.
#[macro_export]
macro_rules! as_role {
    ($client:ty, $own:expr, $credentials:expr) => {
        <$client>::from_conf(
            $own.config()
                .to_builder()
                .credentials_provider($credentials.clone())
                .build(),
        )
    };
}

/// Clients as each account has them: Rebound's own, and a copy acting as the role of each other
/// account the plan's resources name.
#[derive(Debug, Clone)]
pub struct PerAccount<T> {
    own: T,
    others: BTreeMap<String, T>,
}

impl<T> PerAccount<T> {
    /// Every resource Rebound's own.
    pub fn own(own: T) -> Self {
        PerAccount {
            own,
            others: BTreeMap::new(),
        }
    }

    /// `own`, and `as_role(credentials)` for each assumed account.
    pub fn assumed(
        own: T,
        credentials: &BTreeMap<String, SharedCredentialsProvider>,
        as_role: impl Fn(&T, &SharedCredentialsProvider) -> T,
    ) -> Self {
        let others = credentials
            .iter()
            .map(|(name, c)| (name.clone(), as_role(&own, c)))
            .collect();
        PerAccount { own, others }
    }

    /// The clients of `account` (None: Rebound's own). An account not assumed is Rebound's
    /// own: [`Roles::assume_each`] fails first for one that cannot be.
    pub fn of(&self, account: Option<&str>) -> &T {
        account.and_then(|a| self.others.get(a)).unwrap_or(&self.own)
    }

    /// Each account's part of its clients.
    pub fn map<U>(&self, part: impl Fn(&T) -> U) -> PerAccount<U> {
        PerAccount {
            own: part(&self.own),
            others: self.others.iter().map(|(name, t)| (name.clone(), part(t))).collect(),
        }
    }

    /// Rebound's own clients.
    pub fn own_clients(&self) -> &T {
        &self.own
    }
}

/// Route 53 as each hosted zone's account has it: Rebound's own client, or one acting as the
/// role of the account the zone's records name (through [`Roles`]).
#[derive(Debug, Clone)]
pub struct Route53s {
    clients: PerAccount<aws_sdk_route53::Client>,
    /// Each zone in another account, and that account's name.
    accounts: BTreeMap<String, String>,
}

impl Route53s {
    /// Every zone Rebound's own.
    pub fn own(own: &aws_sdk_route53::Client) -> Self {
        Route53s {
            clients: PerAccount::own(own.clone()),
            accounts: BTreeMap::new(),
        }
    }

    /// One client per account the plan's zones name, each like `own` but acting as its role.
    pub async fn for_plan(
        own: &aws_sdk_route53::Client,
        roles: &Roles,
        plan: &RecoveryPlan,
        session: &str,
    ) -> Result<Self, StepFault> {
        let accounts: BTreeMap<String, String> = plan
            .zones()
            .filter_map(|(zone, account)| Some((zone.to_string(), account?.to_string())))
            .collect();
        let names: Vec<&str> = accounts.values().map(String::as_str).collect();
        let credentials = roles.assume_each(plan, &names, session).await?;
        Ok(Route53s {
            clients: PerAccount::assumed(own.clone(), &credentials, |own, c| {
                as_role!(aws_sdk_route53::Client, own, c)
            }),
            accounts,
        })
    }

    /// Rebound's own client.
    pub fn own_client(&self) -> &aws_sdk_route53::Client {
        self.clients.own_clients()
    }

    /// Whether any zone of `plan` is in another account (else no role is assumed).
    pub fn needed(plan: &RecoveryPlan) -> bool {
        plan.zones().any(|(_, account)| account.is_some())
    }

    /// The client for calls on `zone` and its records.
    pub fn zone(&self, zone: &str) -> &aws_sdk_route53::Client {
        self.clients.of(self.accounts.get(zone).map(String::as_str))
    }

    /// The client for a health check of the plan's records: its record's zone's account.
    pub fn health_check(&self, plan: &RecoveryPlan, id: &str) -> &aws_sdk_route53::Client {
        plan.dns
            .iter()
            .find(|r| r.health_check_id.as_deref() == Some(id))
            .map_or(self.own_client(), |r| self.zone(&r.hosted_zone_id))
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
