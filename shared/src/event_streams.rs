//! Lambda event source mappings in both regions: each one's state, and turning it on or off.
//! The primary's calls are best effort (short timeouts): it may be the region that failed.

use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use rebound_core::plan::Side;

use rebound_core::plan::RecoveryPlan;
use rebound_core::step::StepFault;

use crate::accounts::{PerAccount, Roles, SharedCredentialsProvider};
use crate::aws::Regions;
use crate::error::{from_sdk, AwsError};

#[derive(Debug, Clone)]
pub struct EventStreams {
    primary: aws_sdk_lambda::Client,
    recovery: aws_sdk_lambda::Client,
}

impl EventStreams {
    pub fn new(regions: &Regions) -> EventStreams {
        EventStreams {
            primary: aws_sdk_lambda::Client::new(&crate::aws::best_effort(&regions.primary)),
            recovery: aws_sdk_lambda::Client::new(&regions.recovery),
        }
    }

    /// The same clients, as another account's role.
    pub fn as_role(&self, credentials: &SharedCredentialsProvider) -> Self {
        EventStreams {
            primary: crate::as_role!(aws_sdk_lambda::Client, self.primary, credentials),
            recovery: crate::as_role!(aws_sdk_lambda::Client, self.recovery, credentials),
        }
    }

    fn client(&self, side: Side) -> &aws_sdk_lambda::Client {
        match side {
            Side::Primary => &self.primary,
            Side::Recovery => &self.recovery,
        }
    }

    /// The mapping's `State`, or None when it does not exist.
    pub async fn state(&self, side: Side, uuid: &str) -> Result<Option<String>, AwsError> {
        match self.client(side).get_event_source_mapping().uuid(uuid).send().await {
            Ok(out) => Ok(Some(out.state.unwrap_or_else(|| "unknown".into()))),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(None),
            Err(e) => Err(from_sdk("lambda", "GetEventSourceMapping", &e)),
        }
    }

    /// Turns the mapping on or off; its state as Lambda answers (`Enabling`, `Disabling`, ...).
    /// A mapping already on its way somewhere (the SDK's retry of an update whose answer was
    /// lost meets its own change under way) answers with the state it is in.
    pub async fn set(&self, side: Side, uuid: &str, enabled: bool) -> Result<String, AwsError> {
        let answer = self
            .client(side)
            .update_event_source_mapping()
            .uuid(uuid)
            .enabled(enabled)
            .send()
            .await;
        match answer {
            Ok(out) => Ok(out.state.unwrap_or_else(|| "unknown".into())),
            Err(e) if e.code() == Some("ResourceInUseException") => match self.state(side, uuid).await? {
                Some(state) => Ok(state),
                None => Err(from_sdk("lambda", "UpdateEventSourceMapping", &e)),
            },
            Err(e) => Err(from_sdk("lambda", "UpdateEventSourceMapping", &e)),
        }
    }
}

impl PerAccount<EventStreams> {
    /// `own`, and `own` acting as the role of each account the plan's mappings name (assumed
    /// once a recovery).
    pub async fn for_mappings(
        own: &EventStreams,
        roles: &Roles,
        plan: &RecoveryPlan,
        session: &str,
    ) -> Result<Self, StepFault> {
        let names: Vec<&str> = plan
            .event_source_mappings
            .iter()
            .filter_map(|m| m.account.as_deref())
            .collect();
        let credentials = roles.assume_each(plan, &names, session).await?;
        Ok(PerAccount::assumed(own.clone(), &credentials, EventStreams::as_role))
    }
}
