//! Where the application reads a database's writer endpoint from (an SSM parameter, a field of a
//! Secrets Manager secret, a CNAME), pointed at the new writer once it takes writes.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Database, RecoveryPlan};

/// The secret field that holds the host, as RDS-managed secrets name it.
pub const DEFAULT_SECRET_FIELD: &str = "host";

/// The fields a plan may name as a secret's host. Anything else (`password`) would be read into
/// a recovery and then overwritten with a host name.
pub const HOST_FIELDS: [&str; 4] = ["host", "hostname", "endpoint", "address"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum WriterEndpoint {
    /// A String (or SecureString) parameter whose whole value is the writer's host name.
    SsmParameter {
        database: String,
        name: String,
        /// Where the parameter lives; by default the region the application runs in after the
        /// step (the recovery region, or the primary after a failback).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        region: Option<String>,
        /// The account (a name in the plan's `accounts`) it is in; unset, Rebound's own.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        account: Option<String>,
    },
    /// A secret holding a JSON object; its `field` (default `host`) is set, every other field
    /// kept, in a new version.
    Secret {
        database: String,
        secret_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        field: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        region: Option<String>,
        /// The account (a name in the plan's `accounts`) it is in; unset, Rebound's own.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        account: Option<String>,
    },
    /// A CNAME record the application connects through, set to the writer's host name.
    Cname {
        database: String,
        hosted_zone_id: String,
        name: String,
        ttl: u32,
        /// The account (a name in the plan's `accounts`) the hosted zone is in; unset, Rebound's
        /// own.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        account: Option<String>,
    },
}

impl WriterEndpoint {
    /// The plan database whose writer this points at.
    pub fn database(&self) -> &str {
        match self {
            WriterEndpoint::SsmParameter { database, .. }
            | WriterEndpoint::Secret { database, .. }
            | WriterEndpoint::Cname { database, .. } => database,
        }
    }

    /// The account it is in (a name in the plan's `accounts`); None: Rebound's own.
    pub fn account(&self) -> Option<&str> {
        match self {
            WriterEndpoint::SsmParameter { account, .. }
            | WriterEndpoint::Secret { account, .. }
            | WriterEndpoint::Cname { account, .. } => account.as_deref(),
        }
    }

    /// How actions and checks name it: `ssm:/orders/db/host`, `secretsmanager:orders-db#host`,
    /// `route53:Z123/db.orders.example.com./CNAME`.
    pub fn resource(&self) -> String {
        match self {
            WriterEndpoint::SsmParameter { name, .. } => format!("ssm:{name}"),
            WriterEndpoint::Secret { secret_id, .. } => format!("secretsmanager:{secret_id}#{}", self.field()),
            WriterEndpoint::Cname {
                hosted_zone_id, name, ..
            } => format!("route53:{hosted_zone_id}/{name}/CNAME"),
        }
    }

    fn database_mut(&mut self) -> &mut String {
        match self {
            WriterEndpoint::SsmParameter { database, .. }
            | WriterEndpoint::Secret { database, .. }
            | WriterEndpoint::Cname { database, .. } => database,
        }
    }

    /// The same endpoint following `database` instead.
    pub(super) fn following(&self, database: &str) -> WriterEndpoint {
        let mut moved = self.clone();
        *moved.database_mut() = database.to_string();
        moved
    }

    /// The secret's field that holds the host.
    pub fn field(&self) -> &str {
        match self {
            WriterEndpoint::Secret { field: Some(f), .. } => f,
            _ => DEFAULT_SECRET_FIELD,
        }
    }

    /// The region whose API holds it: its own `region`, else `acting` (where the application
    /// runs after the step). None for Route 53, a global service.
    pub fn region<'a>(&'a self, acting: &'a str) -> Option<&'a str> {
        match self {
            WriterEndpoint::SsmParameter { region, .. } | WriterEndpoint::Secret { region, .. } => {
                Some(region.as_deref().unwrap_or(acting))
            }
            WriterEndpoint::Cname { .. } => None,
        }
    }
}

impl RecoveryPlan {
    /// Each writer endpoint with the database it follows, in a plan as it acts (a failback's is
    /// [`RecoveryPlan::for_failback`]).
    pub fn writer_endpoints_acting(&self) -> Vec<(&WriterEndpoint, &Database)> {
        self.writer_endpoints
            .iter()
            .filter_map(|endpoint| {
                let db = self
                    .databases
                    .iter()
                    .find(|db| db.identifier() == endpoint.database())?;
                Some((endpoint, db))
            })
            .collect()
    }
}

/// Whether two host names are the same (DNS names are case-insensitive; a trailing dot is the
/// root).
pub fn same_host(a: &str, b: &str) -> bool {
    a.trim()
        .trim_end_matches('.')
        .eq_ignore_ascii_case(b.trim().trim_end_matches('.'))
}

/// The host a secret's `field` holds; an error says why the secret cannot be pointed at a
/// writer (not a JSON object, the field not a string).
pub fn secret_host(secret: &str, field: &str) -> Result<Option<String>, String> {
    let object = secret_object(secret)?;
    match object.get(field) {
        None => Ok(None),
        Some(Value::String(host)) => Ok(Some(host.clone())),
        Some(_) => Err(format!("its field '{field}' is not a string")),
    }
}

/// The secret with `field` set to `host`, every other field as it was.
pub fn secret_with_host(secret: &str, field: &str, host: &str) -> Result<String, String> {
    let mut object = secret_object(secret)?;
    object.insert(field.to_string(), Value::String(host.to_string()));
    serde_json::to_string(&Value::Object(object)).map_err(|e| e.to_string())
}

fn secret_object(secret: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str(secret) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err("its value is not a JSON object (the host must be one of its fields)".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_keeps_every_other_field() {
        let secret = r#"{"username":"app","password":"s3cr3t","host":"old.example.com","port":5432}"#;
        let new = secret_with_host(secret, "host", "new.example.com").expect("object");
        let value: Value = serde_json::from_str(&new).expect("json");
        assert_eq!(value["host"], "new.example.com");
        assert_eq!(value["password"], "s3cr3t");
        assert_eq!(value["port"], 5432);
        assert_eq!(secret_host(&new, "host"), Ok(Some("new.example.com".into())));
        assert_eq!(secret_host(r#"{"user":"a"}"#, "host"), Ok(None));
    }

    #[test]
    fn a_secret_that_cannot_hold_a_host_is_refused() {
        assert!(secret_with_host("plain-password", "host", "h").is_err());
        assert!(secret_host("[1,2]", "host").is_err());
        assert!(secret_host(r#"{"host":5}"#, "host")
            .expect_err("number")
            .contains("'host'"));
    }

    #[test]
    fn hosts_compare_as_dns_names() {
        assert!(same_host(
            "Orders.Cluster-x.us-west-2.rds.amazonaws.com.",
            "orders.cluster-x.us-west-2.rds.amazonaws.com"
        ));
        assert!(!same_host("a.example.com", "b.example.com"));
    }
}
