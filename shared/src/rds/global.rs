//! Global databases (Aurora, Amazon DocumentDB, Neptune) read through each engine's own SDK
//! client (database-failover moves their writer with the same clients). The three APIs have one shape (the same operations,
//! fields and errors), so each call is written once and made with whichever client the engine
//! has.

use aws_config::SdkConfig;
use rebound_core::plan::GlobalEngine;

use crate::error::{from_sdk, AwsError};

/// A global database: its members as (cluster ARN, is writer), and whether it is available.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Global {
    pub members: Vec<(String, bool)>,
    pub available: bool,
    /// The cluster a failover or switchover under way is promoting (`FailoverState`'s
    /// `ToDbClusterArn`, while its status is `pending`, `failing-over` or `switching-over`).
    pub moving_to: Option<String>,
    /// Its engine and version: a secondary cluster added to it has the same.
    pub engine: Option<String>,
    pub engine_version: Option<String>,
}

impl Global {
    pub fn writer(&self) -> Option<&str> {
        self.members.iter().find(|(_, w)| *w).map(|(arn, _)| arn.as_str())
    }
}

/// The DocumentDB and Neptune clients of one region (Aurora's is the RDS client a step already
/// holds).
#[derive(Debug, Clone)]
pub struct GlobalClients {
    pub docdb: aws_sdk_docdb::Client,
    pub neptune: aws_sdk_neptune::Client,
}

impl GlobalClients {
    pub fn new(config: &SdkConfig) -> Self {
        GlobalClients {
            docdb: aws_sdk_docdb::Client::new(config),
            neptune: aws_sdk_neptune::Client::new(config),
        }
    }

    /// The same clients, as another account's role.
    pub fn as_role(&self, credentials: &crate::accounts::SharedCredentialsProvider) -> Self {
        GlobalClients {
            docdb: crate::as_role!(aws_sdk_docdb::Client, self.docdb, credentials),
            neptune: crate::as_role!(aws_sdk_neptune::Client, self.neptune, credentials),
        }
    }

    /// The client that acts on a global database of `engine`, `rds` for Aurora's.
    pub fn client<'a>(&'a self, rds: &'a aws_sdk_rds::Client, engine: GlobalEngine) -> GlobalClient<'a> {
        match engine {
            GlobalEngine::Aurora => GlobalClient::Aurora(rds),
            GlobalEngine::Docdb => GlobalClient::Docdb(&self.docdb),
            GlobalEngine::Neptune => GlobalClient::Neptune(&self.neptune),
        }
    }
}

/// One engine's client.
#[derive(Debug, Clone, Copy)]
pub enum GlobalClient<'a> {
    Aurora(&'a aws_sdk_rds::Client),
    Docdb(&'a aws_sdk_docdb::Client),
    Neptune(&'a aws_sdk_neptune::Client),
}

/// `$name`: one `DescribeGlobalClusters` through `$client`'s SDK, the global database or None
/// where it does not exist. The three SDKs have the same calls and fields, their types differ;
/// each engine's reader is its own function so that a caller's stack holds one SDK's future.
macro_rules! global_reader {
    ($name:ident, $client:ty, $service:literal) => {
        async fn $name(client: &$client, id: &str) -> Result<Option<Global>, AwsError> {
            let out = client
                .describe_global_clusters()
                .global_cluster_identifier(id)
                .send()
                .await;
            let out = match out {
                Ok(out) => out,
                // DocumentDB and Neptune answer an unknown identifier with this fault where
                // moto's RDS answered an empty list.
                Err(e)
                    if aws_smithy_types::error::metadata::ProvideErrorMetadata::code(&e)
                        == Some("GlobalClusterNotFoundFault") =>
                {
                    return Ok(None)
                }
                Err(e) => return Err(from_sdk($service, "DescribeGlobalClusters", &e)),
            };
            Ok(out.global_clusters().first().map(|cluster| Global {
                members: cluster
                    .global_cluster_members()
                    .iter()
                    .map(|m| {
                        (
                            m.db_cluster_arn().unwrap_or_default().to_string(),
                            m.is_writer().unwrap_or(false),
                        )
                    })
                    .collect(),
                available: cluster.status() == Some("available"),
                moving_to: cluster
                    .failover_state()
                    .filter(|f| f.status().is_some_and(|s| s.as_str() != "cancelling"))
                    .and_then(|f| f.to_db_cluster_arn())
                    .map(str::to_string),
                engine: cluster.engine().map(str::to_string),
                engine_version: cluster.engine_version().map(str::to_string),
            }))
        }
    };
}

global_reader!(read_aurora, aws_sdk_rds::Client, "rds");
global_reader!(read_docdb, aws_sdk_docdb::Client, "docdb");
global_reader!(read_neptune, aws_sdk_neptune::Client, "neptune");

impl GlobalClient<'_> {
    pub fn service(&self) -> &'static str {
        match self {
            GlobalClient::Aurora(_) => "rds",
            GlobalClient::Docdb(_) => "docdb",
            GlobalClient::Neptune(_) => "neptune",
        }
    }

    /// One `DescribeGlobalClusters`: the global database, or None where it does not exist.
    /// Boxed, each engine's read: three SDKs' futures in one would weigh on every caller's stack.
    pub async fn read(&self, id: &str) -> Result<Option<Global>, AwsError> {
        match *self {
            GlobalClient::Aurora(client) => Box::pin(read_aurora(client, id)).await,
            GlobalClient::Docdb(client) => Box::pin(read_docdb(client, id)).await,
            GlobalClient::Neptune(client) => Box::pin(read_neptune(client, id)).await,
        }
    }
}

/// One `DescribeGlobalClusters` of an Aurora global database.
pub async fn global_cluster(rds: &aws_sdk_rds::Client, id: &str) -> Result<Option<Global>, AwsError> {
    GlobalClient::Aurora(rds).read(id).await
}
