//! AWS clients, all built from one `aws_config` load, so the standard environment
//! (`AWS_REGION`, `AWS_ENDPOINT_URL`, credentials, ...) points every one of them at the
//! same place: an AWS account, or the local AWS world.

pub use aws_config::SdkConfig;

/// Loads the shared configuration from the standard environment. Call once at cold start.
pub async fn load_config() -> SdkConfig {
    aws_config::load_from_env().await
}

#[derive(Clone, Debug)]
pub struct Clients {
    pub ecs: aws_sdk_ecs::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub elb: aws_sdk_elasticloadbalancing::Client,
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
}

impl Clients {
    /// Loads the shared configuration once (call at cold start) and builds every client.
    pub async fn from_env() -> Self {
        Self::from_config(&load_config().await)
    }

    pub fn from_config(config: &aws_config::SdkConfig) -> Self {
        Self {
            ecs: aws_sdk_ecs::Client::new(config),
            autoscaling: aws_sdk_autoscaling::Client::new(config),
            elb: aws_sdk_elasticloadbalancing::Client::new(config),
            elbv2: aws_sdk_elasticloadbalancingv2::Client::new(config),
        }
    }
}
