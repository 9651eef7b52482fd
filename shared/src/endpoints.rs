//! The places an application reads its database's writer endpoint from (SSM parameters,
//! Secrets Manager secrets, Route 53 CNAMEs): what each holds now, and pointing it at a writer.
//! database-failover points them; the validator reads them back.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ChangeStatus, ResourceRecord, ResourceRecordSet, RrType,
};
use aws_sdk_ssm::types::{ParameterStringFilter, ParameterType};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use rebound_core::plan::{secret_host, secret_with_host, RecoveryPlan, WriterEndpoint};
use rebound_core::step::StepFault;
use sha2::{Digest, Sha256};

use crate::accounts::{Roles, Route53s, SharedCredentialsProvider};
use crate::dns::{pace, records::same_name};
use crate::error::aws_fault;

/// What one endpoint holds now, read before it is changed. Its Debug shows no value: what a
/// secret or a SecureString holds is never written anywhere ([`Current::shown`]).
#[derive(Clone, PartialEq)]
pub struct Current {
    /// The host it points the application at (None: a CNAME not yet there, a secret without
    /// the field). Compared, never recorded: see [`Current::shown`].
    pub host: Option<String>,
    held: Held,
}

impl std::fmt::Debug for Current {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Current")
            .field("sealed", &self.sealed())
            .finish_non_exhaustive()
    }
}

impl Current {
    /// Read from a secret or a SecureString parameter.
    pub fn sealed(&self) -> bool {
        matches!(
            self.held,
            Held::Secret { .. }
                | Held::Parameter {
                    kind: ParameterType::SecureString
                }
        )
    }

    /// What an action, a check or a report may say of the value held: the host of a String
    /// parameter or a CNAME (as public as DNS), and of a secret or a SecureString only a
    /// fingerprint keyed by `key` (the recovery's id), which tells two values apart within one
    /// recovery and gives nothing to guess the value from elsewhere.
    pub fn shown(&self, key: &str) -> serde_json::Value {
        match (&self.host, self.sealed()) {
            (None, _) => serde_json::json!({"host": null}),
            (Some(host), false) => serde_json::json!({"host": host}),
            (Some(host), true) => serde_json::json!({"fingerprint": fingerprint(key, host)}),
        }
    }

    /// [`Current::shown`] as a phrase for a check's detail.
    pub fn described(&self, key: &str) -> String {
        match (&self.host, self.sealed()) {
            (None, _) => "no host".into(),
            (Some(host), false) => host.clone(),
            (Some(host), true) => format!("a host that is not shown (fingerprint {})", fingerprint(key, host)),
        }
    }
}

/// `hmac-sha256:` and the first 16 hex digits of HMAC-SHA256(key, value).
pub fn fingerprint(key: &str, value: &str) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = match hmac::Hmac::<Sha256>::new_from_slice(key.as_bytes()) {
        Ok(mac) => mac,
        // HMAC takes a key of any length; this arm is never taken.
        Err(_) => return "hmac-sha256:?".into(),
    };
    mac.update(value.as_bytes());
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("hmac-sha256:{hex}")
}

#[derive(Clone, PartialEq)]
enum Held {
    Parameter { kind: ParameterType },
    Secret { string: String },
    Record,
}

/// What pointing an endpoint did.
#[derive(Debug, Clone, PartialEq)]
pub enum Pointed {
    /// Changed and in effect (a parameter, a secret's new version).
    Done,
    /// A Route 53 change to poll until INSYNC.
    Pending { change_id: String },
}

/// The clients that read and write endpoints: SSM and Secrets Manager in any region (built
/// from `config` as needed), Route 53 (global).
#[derive(Debug, Clone)]
pub struct EndpointStores {
    config: SdkConfig,
    route53: Route53s,
    /// Where the role of another account an endpoint is in is assumed.
    roles: Roles,
    /// The credentials of each account a parameter or secret is in, for one invocation.
    accounts: BTreeMap<String, SharedCredentialsProvider>,
}

impl EndpointStores {
    /// `config` is the recovery region's configuration; `route53` the Route 53 client
    /// ([`crate::dns::route53_client`]); `roles` the function's.
    pub fn new(config: &SdkConfig, route53: aws_sdk_route53::Client, roles: &Roles) -> EndpointStores {
        EndpointStores {
            config: config.clone(),
            route53: Route53s::own(&route53),
            roles: roles.clone(),
            accounts: BTreeMap::new(),
        }
    }

    /// The stores as `plan` has them for one invocation: a parameter, a secret or a CNAME's
    /// zone in another account reached as the role the plan names for it.
    pub async fn for_plan(&self, plan: &RecoveryPlan, session: &str) -> Result<EndpointStores, StepFault> {
        let names: Vec<&str> = plan
            .writer_endpoints
            .iter()
            .filter(|e| !matches!(e, WriterEndpoint::Cname { .. }))
            .filter_map(WriterEndpoint::account)
            .collect();
        let mut stores = self.clone();
        if Route53s::needed(plan) {
            stores.route53 = Box::pin(Route53s::for_plan(
                self.route53.own_client(),
                &self.roles,
                plan,
                session,
            ))
            .await?;
        }
        if !names.is_empty() {
            stores.accounts = Box::pin(self.roles.assume_each(plan, &names, session)).await?;
        }
        Ok(stores)
    }

    /// `region`'s configuration, acting as the role of the account `endpoint` is in.
    fn config_for(&self, endpoint: &WriterEndpoint, region: &str) -> SdkConfig {
        let config = crate::aws::in_region(&self.config, region);
        match endpoint.account().and_then(|name| self.accounts.get(name)) {
            Some(credentials) => config.to_builder().credentials_provider(credentials.clone()).build(),
            None => config,
        }
    }

    fn ssm(&self, endpoint: &WriterEndpoint, region: &str) -> aws_sdk_ssm::Client {
        aws_sdk_ssm::Client::new(&self.config_for(endpoint, region))
    }

    fn secrets(&self, endpoint: &WriterEndpoint, region: &str) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::new(&self.config_for(endpoint, region))
    }

    /// What `endpoint` holds now, in `acting` (the region the application runs in after the
    /// step) unless it names its own. Missing, or unable to hold a host, is a precondition.
    pub async fn read(&self, endpoint: &WriterEndpoint, acting: &str) -> Result<Current, StepFault> {
        let resource = endpoint.resource();
        let region = endpoint.region(acting).unwrap_or(acting);
        match endpoint {
            WriterEndpoint::SsmParameter { name, .. } => {
                let out = self
                    .ssm(endpoint, region)
                    .get_parameter()
                    .name(name)
                    .with_decryption(true)
                    .send()
                    .await;
                let parameter = match out {
                    Ok(out) => out.parameter,
                    Err(e) if e.code() == Some("ParameterNotFound") => None,
                    Err(e) => return Err(aws_fault(resource, "ssm", "GetParameter", &e)),
                };
                let Some(parameter) = parameter else {
                    return Err(StepFault::precondition(
                        resource,
                        format!("no such parameter in {region}"),
                    ));
                };
                let kind = parameter.r#type.unwrap_or(ParameterType::String);
                if kind == ParameterType::StringList {
                    return Err(StepFault::precondition(
                        resource,
                        "a StringList parameter cannot hold one host",
                    ));
                }
                Ok(Current {
                    host: parameter.value,
                    held: Held::Parameter { kind },
                })
            }
            WriterEndpoint::Secret { secret_id, .. } => {
                let secrets = self.secrets(endpoint, region);
                let described = secrets.describe_secret().secret_id(secret_id).send().await;
                let described = match described {
                    Ok(d) => d,
                    Err(e) if e.code() == Some("ResourceNotFoundException") => {
                        return Err(StepFault::precondition(resource, format!("no such secret in {region}")))
                    }
                    Err(e) => return Err(aws_fault(resource, "secretsmanager", "DescribeSecret", &e)),
                };
                // A replica is read-only: it is written through its primary, which may be the
                // region that failed.
                if let Some(home) = described.primary_region().filter(|home| *home != region) {
                    return Err(StepFault::precondition(
                        resource,
                        format!(
                            "the secret in {region} is a replica of {home}'s and cannot be written there; give {region} a secret of its own"
                        ),
                    ));
                }
                let value = secrets
                    .get_secret_value()
                    .secret_id(secret_id)
                    .send()
                    .await
                    .map_err(|e| aws_fault(resource.as_str(), "secretsmanager", "GetSecretValue", &e))?;
                let Some(string) = value.secret_string else {
                    return Err(StepFault::precondition(
                        resource,
                        "the secret holds binary, not a JSON object",
                    ));
                };
                let host =
                    secret_host(&string, endpoint.field()).map_err(|why| StepFault::precondition(resource, why))?;
                Ok(Current {
                    host,
                    held: Held::Secret { string },
                })
            }
            WriterEndpoint::Cname {
                hosted_zone_id, name, ..
            } => {
                pace::route53().turn().await;
                let out = self
                    .route53
                    .zone(hosted_zone_id)
                    .list_resource_record_sets()
                    .hosted_zone_id(hosted_zone_id)
                    .start_record_name(name)
                    .max_items(10)
                    .send()
                    .await;
                let out = match out {
                    Ok(out) => out,
                    Err(e) if e.code() == Some("NoSuchHostedZone") => {
                        return Err(StepFault::precondition(resource, "no such hosted zone"))
                    }
                    Err(e) => return Err(aws_fault(resource, "route53", "ListResourceRecordSets", &e)),
                };
                let at_name: Vec<&ResourceRecordSet> = out
                    .resource_record_sets()
                    .iter()
                    .filter(|s| same_name(s.name(), name))
                    .collect();
                if let Some(other) = at_name.iter().find(|s| *s.r#type() != RrType::Cname) {
                    return Err(StepFault::precondition(
                        resource,
                        format!(
                            "{name} holds a {} record: a CNAME cannot sit beside it",
                            other.r#type().as_str()
                        ),
                    ));
                }
                let host = at_name
                    .first()
                    .and_then(|s| s.resource_records().first())
                    .map(|r| r.value().to_string());
                Ok(Current {
                    host,
                    held: Held::Record,
                })
            }
        }
    }

    /// Points `endpoint` at `host`, from `current` as just read. A secret's new version carries
    /// a token made from `recovery_id`, so a retry after a lost answer makes no second version.
    pub async fn point(
        &self,
        endpoint: &WriterEndpoint,
        acting: &str,
        current: &Current,
        host: &str,
        recovery_id: &str,
    ) -> Result<Pointed, StepFault> {
        let resource = endpoint.resource();
        let region = endpoint.region(acting).unwrap_or(acting);
        match (endpoint, &current.held) {
            (WriterEndpoint::SsmParameter { name, .. }, Held::Parameter { kind }) => {
                let ssm = self.ssm(endpoint, region);
                // A SecureString keeps its own KMS key: without it, SSM would re-encrypt the
                // value under the account's default key.
                let key = if *kind == ParameterType::SecureString {
                    let filter = ParameterStringFilter::builder()
                        .key("Name")
                        .option("Equals")
                        .values(name)
                        .build()
                        .map_err(|e| StepFault::precondition(resource.as_str(), e.to_string()))?;
                    let described = ssm
                        .describe_parameters()
                        .parameter_filters(filter)
                        .send()
                        .await
                        .map_err(|e| aws_fault(resource.as_str(), "ssm", "DescribeParameters", &e))?;
                    described
                        .parameters()
                        .first()
                        .and_then(|p| p.key_id())
                        .map(str::to_string)
                } else {
                    None
                };
                ssm.put_parameter()
                    .name(name)
                    .value(host)
                    .r#type(kind.clone())
                    .set_key_id(key)
                    .overwrite(true)
                    .send()
                    .await
                    .map_err(|e| aws_fault(resource, "ssm", "PutParameter", &e))?;
                Ok(Pointed::Done)
            }
            (WriterEndpoint::Secret { secret_id, .. }, Held::Secret { string }) => {
                let new = secret_with_host(string, endpoint.field(), host)
                    .map_err(|why| StepFault::precondition(resource.as_str(), why))?;
                self.secrets(endpoint, region)
                    .put_secret_value()
                    .secret_id(secret_id)
                    .secret_string(new)
                    .client_request_token(version_token(recovery_id, &resource, host))
                    .send()
                    .await
                    .map_err(|e| aws_fault(resource, "secretsmanager", "PutSecretValue", &e))?;
                Ok(Pointed::Done)
            }
            (
                WriterEndpoint::Cname {
                    hosted_zone_id,
                    name,
                    ttl,
                    ..
                },
                Held::Record,
            ) => {
                let set = ResourceRecordSet::builder()
                    .name(name)
                    .r#type(RrType::Cname)
                    .ttl(i64::from(*ttl))
                    .resource_records(
                        ResourceRecord::builder()
                            .value(host)
                            .build()
                            .map_err(|e| StepFault::precondition(resource.as_str(), e.to_string()))?,
                    )
                    .build()
                    .map_err(|e| StepFault::precondition(resource.as_str(), e.to_string()))?;
                let change = Change::builder()
                    .action(ChangeAction::Upsert)
                    .resource_record_set(set)
                    .build()
                    .map_err(|e| StepFault::precondition(resource.as_str(), e.to_string()))?;
                let batch = ChangeBatch::builder()
                    .comment(format!("rebound: writer endpoint for {}", endpoint.database()))
                    .changes(change)
                    .build()
                    .map_err(|e| StepFault::precondition(resource.as_str(), e.to_string()))?;
                pace::route53().turn().await;
                let out = self
                    .route53
                    .zone(hosted_zone_id)
                    .change_resource_record_sets()
                    .hosted_zone_id(hosted_zone_id)
                    .change_batch(batch)
                    .send()
                    .await
                    .map_err(|e| aws_fault(resource.as_str(), "route53", "ChangeResourceRecordSets", &e))?;
                match out.change_info {
                    Some(info) if info.status != ChangeStatus::Insync => Ok(Pointed::Pending { change_id: info.id }),
                    _ => Ok(Pointed::Done),
                }
            }
            _ => Err(StepFault::precondition(
                resource,
                "read as another kind of endpoint than the plan names",
            )),
        }
    }

    /// Whether a CNAME's change is INSYNC.
    pub async fn in_sync(&self, endpoint: &WriterEndpoint, change_id: &str) -> Result<bool, StepFault> {
        let zone = match endpoint {
            WriterEndpoint::Cname { hosted_zone_id, .. } => hosted_zone_id.as_str(),
            _ => "",
        };
        pace::route53().turn().await;
        let out = self
            .route53
            .zone(zone)
            .get_change()
            .id(change_id)
            .send()
            .await
            .map_err(|e| aws_fault(endpoint.resource(), "route53", "GetChange", &e))?;
        Ok(out.change_info.is_some_and(|c| c.status == ChangeStatus::Insync))
    }
}

/// Secrets Manager's idempotency token for one recovery's pointing of one endpoint at one host
/// (32 to 64 characters).
fn version_token(recovery_id: &str, resource: &str, host: &str) -> String {
    let digest = Sha256::digest(format!("{recovery_id}\n{resource}\n{host}"));
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_is_shown_as_a_fingerprint_only() {
        let sealed = Current {
            host: Some("old-writer.internal".into()),
            held: Held::Parameter {
                kind: ParameterType::SecureString,
            },
        };
        let shown = sealed.shown("rec-1").to_string();
        assert!(!shown.contains("old-writer"), "{shown}");
        assert!(shown.contains("hmac-sha256:"), "{shown}");
        assert_eq!(sealed.shown("rec-1"), sealed.shown("rec-1"));
        assert_ne!(sealed.shown("rec-1"), sealed.shown("rec-2"));
        assert!(!format!("{sealed:?}").contains("old-writer"));
        assert!(!sealed.described("rec-1").contains("old-writer"));
        let secret = Current {
            host: Some("h".into()),
            held: Held::Secret {
                string: r#"{"host":"h","password":"p"}"#.into(),
            },
        };
        assert!(!format!("{secret:?}").contains("password"));
        assert!(secret.sealed());
        let plain = Current {
            host: Some("old-writer.internal".into()),
            held: Held::Parameter {
                kind: ParameterType::String,
            },
        };
        assert_eq!(plain.shown("rec-1"), serde_json::json!({"host": "old-writer.internal"}));
        assert_eq!(fingerprint("k", "v").len(), "hmac-sha256:".len() + 16);
    }

    #[test]
    fn a_retry_carries_the_same_token_and_another_host_another() {
        let a = version_token("rec-1", "secretsmanager:orders#host", "w.example.com");
        assert_eq!(a, version_token("rec-1", "secretsmanager:orders#host", "w.example.com"));
        assert_ne!(a, version_token("rec-1", "secretsmanager:orders#host", "e.example.com"));
        assert_eq!(a.len(), 36);
    }
}
