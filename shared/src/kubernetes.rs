//! Kubernetes Deployments on EKS (`eksDeployment`), through each cluster's API server: its
//! endpoint and certificate authority from EKS (`DescribeCluster`), and the bearer token EKS
//! takes from an IAM principal (EKS User Guide, "Grant IAM users and roles access to Kubernetes
//! APIs"): a GetCallerIdentity request to STS in the cluster's region, presigned for 60 s with
//! the cluster's name in its signed `x-k8s-aws-id` header, as `k8s-aws-v1.` and the URL in
//! unpadded base64url. The role needs an EKS access entry that lets it patch the Deployments
//! and autoscalers (template.yaml).

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings};
use aws_sigv4::sign::v4;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::api::{Api, Patch, PatchParams};
use rebound_core::capacity::Capacity;
use rebound_core::error::ErrorKind;
use rebound_core::plan::KubernetesObject;
use rebound_core::step::StepFault;
use serde_json::json;

/// An API server's client, as the callers hold it.
pub use kube::Client;

use crate::error::{aws_fault, AwsError};

/// How long a call to an API server may take: it answers in milliseconds, and one that does
/// not (its region, or the cluster, in trouble) must not hold the step.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const READ_TIMEOUT: Duration = Duration::from_secs(15);

/// EKS, to find each cluster's API server, and the credentials its tokens are signed with.
#[derive(Clone)]
pub struct Kubernetes {
    eks: aws_sdk_eks::Client,
    config: aws_config::SdkConfig,
    /// The API server every cluster is reached through instead, in tests (kube's client over a
    /// scripted service): no API server runs there.
    scripted: Option<kube::Client>,
}

/// A Deployment and its autoscaler as the API server holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    /// `spec.replicas`.
    pub replicas: i32,
    /// `status.availableReplicas`: pods ready for their `minReadySeconds`.
    pub available: i32,
    /// The autoscaler's `(minReplicas, maxReplicas)`, when the plan names one.
    pub autoscaler: Option<(i32, i32)>,
}

impl Workload {
    pub fn capacity(&self) -> Capacity {
        Capacity {
            min: self.autoscaler.map(|a| a.0),
            desired: self.replicas,
            max: self.autoscaler.map(|a| a.1),
            running: self.available,
        }
    }
}

impl std::fmt::Debug for Kubernetes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kubernetes")
            .field("eks", &self.eks)
            .field("scripted", &self.scripted.is_some())
            .finish()
    }
}

impl Kubernetes {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Kubernetes {
            eks: aws_sdk_eks::Client::new(config),
            config: config.clone(),
            scripted: None,
        }
    }

    /// The same, acting as another account's role: EKS asked, and tokens signed, as the role.
    pub fn as_role(&self, credentials: &aws_credential_types::provider::SharedCredentialsProvider) -> Self {
        Kubernetes {
            eks: crate::as_role!(aws_sdk_eks::Client, self.eks, credentials),
            config: self
                .config
                .to_builder()
                .credentials_provider(credentials.clone())
                .build(),
            scripted: self.scripted.clone(),
        }
    }

    /// Every cluster's API server is `client`; EKS is still asked whether the cluster serves.
    pub fn scripted(config: &aws_config::SdkConfig, client: kube::Client) -> Self {
        Kubernetes {
            scripted: Some(client),
            ..Kubernetes::new(config)
        }
    }

    /// A client of `cluster`'s API server, refused while EKS does not show the cluster ACTIVE
    /// or UPDATING (it serves its API then).
    pub async fn client(&self, cluster: &str) -> Result<kube::Client, StepFault> {
        let resource = format!("eks:{cluster}");
        let described = serving_cluster(&self.eks, cluster).await?;
        if let Some(client) = &self.scripted {
            return Ok(client.clone());
        }
        let unusable = |why: String| StepFault::precondition(&resource, why);
        let endpoint = described
            .endpoint()
            .ok_or_else(|| unusable("EKS names no API server endpoint".into()))?;
        let authority = described
            .certificate_authority()
            .and_then(|c| c.data())
            .ok_or_else(|| unusable("EKS gives no certificate authority".into()))?;
        let region = self
            .config
            .region()
            .map(|r| r.as_ref().to_string())
            .ok_or_else(|| unusable("no region to sign the token for".into()))?;
        let credentials = match self.config.credentials_provider() {
            Some(provider) => provider
                .provide_credentials()
                .await
                .map_err(|e| unusable(format!("no credentials to sign the token with: {e}")))?,
            None => return Err(unusable("no credentials to sign the token with".into())),
        };
        let token = token(&credentials, &region, cluster, SystemTime::now()).map_err(unusable)?;
        let mut config = kube::Config::new(
            endpoint
                .parse()
                .map_err(|e| unusable(format!("API server endpoint {endpoint}: {e}")))?,
        );
        config.root_cert = Some(certificates(authority).map_err(unusable)?);
        config.connect_timeout = Some(CONNECT_TIMEOUT);
        config.read_timeout = Some(READ_TIMEOUT);
        let mut bearer = http::HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|e| unusable(format!("the token is no header value: {e}")))?;
        bearer.set_sensitive(true);
        config.headers.push((http::header::AUTHORIZATION, bearer));
        kube::Client::try_from(config).map_err(|e| unusable(format!("API server client: {e}")))
    }

    /// The Deployment `namespace/deployment` of `cluster` and the autoscaler named, through
    /// `client`; a missing one is refused.
    pub async fn read(
        client: &kube::Client,
        resource: &str,
        namespace: &str,
        deployment: &str,
        autoscaler: Option<&str>,
    ) -> Result<Workload, StepFault> {
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
        let found = deployments
            .get_opt(deployment)
            .await
            .map_err(|e| fault(resource, "GetDeployment", e))?
            .ok_or_else(|| {
                StepFault::precondition(
                    resource,
                    format!("Deployment {deployment} not found in namespace {namespace}"),
                )
            })?;
        let replicas = found.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let available = found.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0);
        let autoscaler = match autoscaler {
            Some(name) => {
                let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), namespace);
                let hpa = hpas
                    .get_opt(name)
                    .await
                    .map_err(|e| fault(resource, "GetHorizontalPodAutoscaler", e))?
                    .ok_or_else(|| {
                        StepFault::precondition(
                            resource,
                            format!("HorizontalPodAutoscaler {name} not found in namespace {namespace}"),
                        )
                    })?;
                let spec = hpa.spec.unwrap_or_default();
                Some((spec.min_replicas.unwrap_or(1), spec.max_replicas))
            }
            None => None,
        };
        Ok(Workload {
            replicas,
            available,
            autoscaler,
        })
    }

    /// Sets the autoscaler's bounds (first: it would undo a count below its minimum) and the
    /// Deployment's replicas, each a JSON merge patch of those fields alone.
    pub async fn scale(
        client: &kube::Client,
        resource: &str,
        (namespace, deployment, autoscaler): KubernetesObject<'_>,
        target: Capacity,
    ) -> Result<(), StepFault> {
        let params = PatchParams {
            field_manager: Some("rebound".into()),
            ..PatchParams::default()
        };
        if let (Some(name), Some(min), Some(max)) = (autoscaler, target.min, target.max) {
            let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), namespace);
            let bounds = json!({"spec": {"minReplicas": min, "maxReplicas": max}});
            hpas.patch(name, &params, &Patch::Merge(&bounds))
                .await
                .map_err(|e| fault(resource, "PatchHorizontalPodAutoscaler", e))?;
        }
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
        let replicas = json!({"spec": {"replicas": target.desired}});
        deployments
            .patch(deployment, &params, &Patch::Merge(&replicas))
            .await
            .map_err(|e| fault(resource, "PatchDeployment", e))?;
        Ok(())
    }
}

/// EKS cluster `cluster` as `DescribeCluster` shows it, refused unless ACTIVE or UPDATING (it
/// serves its API, and takes node group updates, then).
pub async fn serving_cluster(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
) -> Result<aws_sdk_eks::types::Cluster, StepFault> {
    let resource = format!("eks:{cluster}");
    let out = eks
        .describe_cluster()
        .name(cluster)
        .send()
        .await
        .map_err(|e| aws_fault(&resource, "eks", "DescribeCluster", &e))?;
    let described = out
        .cluster()
        .ok_or_else(|| StepFault::precondition(&resource, "cluster not found in the recovery region"))?;
    match described.status().map(|s| s.as_str()).unwrap_or_default() {
        "ACTIVE" | "UPDATING" => Ok(described.clone()),
        status => Err(StepFault::precondition(
            &resource,
            format!("cluster is {status}, expected ACTIVE"),
        )),
    }
}

/// A failed call to an API server, as the step reports it: throttling (429), a server error
/// and an API server that does not answer are transient; a refusal (401, 403: the role has no
/// access entry, or not this one) or a missing object is a precondition.
fn fault(resource: &str, operation: &'static str, err: kube::Error) -> StepFault {
    let (code, status, kind) = match &err {
        kube::Error::Api(status) => {
            let code = status.code;
            let kind = match code {
                429 | 500..=599 => ErrorKind::Transient,
                _ => ErrorKind::PreconditionFailed,
            };
            (status.reason.clone(), Some(code), kind)
        }
        _ => ("Unreachable".to_string(), None, ErrorKind::Transient),
    };
    StepFault::Aws {
        resource: resource.to_string(),
        source: AwsError {
            service: "kubernetes",
            operation,
            code,
            message: err.to_string(),
            status,
            kind,
        },
    }
}

/// The token EKS takes for `cluster`, signed with `credentials` at `at` for STS in `region`.
pub fn token(credentials: &Credentials, region: &str, cluster: &str, at: SystemTime) -> Result<String, String> {
    let identity = credentials.clone().into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(60));
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(at)
        .settings(settings)
        .build()
        .map_err(|e| format!("signing the token: {e}"))?
        .into();
    let url = format!("https://sts.{region}.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15");
    let signable = SignableRequest::new(
        "GET",
        &url,
        std::iter::once(("x-k8s-aws-id", cluster)),
        SignableBody::Bytes(&[]),
    )
    .map_err(|e| format!("signing the token: {e}"))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| format!("signing the token: {e}"))?
        .into_parts();
    let mut request = http::Request::builder()
        .uri(&url)
        .body(())
        .map_err(|e| format!("signing the token: {e}"))?;
    instructions.apply_to_request_http1x(&mut request);
    let presigned = request.uri().to_string();
    let encoded = aws_smithy_types::base64::encode(presigned.as_bytes());
    let url_safe: String = encoded
        .trim_end_matches('=')
        .chars()
        .map(|ch| match ch {
            '+' => '-',
            '/' => '_',
            other => other,
        })
        .collect();
    Ok(format!("k8s-aws-v1.{url_safe}"))
}

/// The DER certificates of EKS's `certificateAuthority.data`: base64 of a PEM bundle.
pub fn certificates(data: &str) -> Result<Vec<Vec<u8>>, String> {
    let pem = aws_smithy_types::base64::decode(data.trim()).map_err(|e| format!("certificate authority: {e}"))?;
    let pem = String::from_utf8(pem).map_err(|e| format!("certificate authority: {e}"))?;
    let mut certificates = Vec::new();
    let mut body: Option<String> = None;
    for line in pem.lines().map(str::trim) {
        match (line, &mut body) {
            ("-----BEGIN CERTIFICATE-----", None) => body = Some(String::new()),
            ("-----END CERTIFICATE-----", Some(text)) => {
                let der = aws_smithy_types::base64::decode(text.as_str())
                    .map_err(|e| format!("certificate authority: {e}"))?;
                certificates.push(der);
                body = None;
            }
            (text, Some(so_far)) => so_far.push_str(text),
            _ => {}
        }
    }
    if certificates.is_empty() {
        return Err("certificate authority: no PEM certificate in it".into());
    }
    Ok(certificates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_a_presigned_get_caller_identity_naming_the_cluster() {
        let credentials = Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_765_000_000);
        let token = token(&credentials, "us-west-2", "orders-usw2", at).expect("token");
        let encoded = token.strip_prefix("k8s-aws-v1.").expect("prefix");
        assert!(!encoded.contains(['+', '/', '=']), "{encoded}");
        let standard: String = encoded
            .chars()
            .map(|ch| match ch {
                '-' => '+',
                '_' => '/',
                other => other,
            })
            .collect();
        let padded = format!("{standard}{}", "=".repeat((4 - standard.len() % 4) % 4));
        let url = String::from_utf8(aws_smithy_types::base64::decode(&padded).expect("base64")).expect("utf-8");
        assert!(
            url.starts_with("https://sts.us-west-2.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&"),
            "{url}"
        );
        for part in [
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "X-Amz-Credential=AKIDEXAMPLE%2F20251206%2Fus-west-2%2Fsts%2Faws4_request",
            "X-Amz-Expires=60",
            "X-Amz-SignedHeaders=host%3Bx-k8s-aws-id",
            "X-Amz-Signature=",
        ] {
            assert!(url.contains(part), "{part} in {url}");
        }
        // The same inputs sign the same; another cluster signs differently.
        assert_eq!(
            super::token(&credentials, "us-west-2", "orders-usw2", at),
            Ok(token.clone())
        );
        assert_ne!(super::token(&credentials, "us-west-2", "other", at), Ok(token));
    }

    #[test]
    fn the_certificate_authority_is_base64_of_pem_certificates() {
        let pem = "-----BEGIN CERTIFICATE-----\nAAEC\nAwQ=\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nBQY=\n-----END CERTIFICATE-----\n";
        let data = aws_smithy_types::base64::encode(pem.as_bytes());
        assert_eq!(certificates(&data), Ok(vec![vec![0, 1, 2, 3, 4], vec![5, 6]]));
        let empty = aws_smithy_types::base64::encode(b"no certificate here");
        assert!(certificates(&empty).is_err());
        assert!(certificates("%%%").is_err());
    }
}
