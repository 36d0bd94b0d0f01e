//! AWS clients, all built from one `aws_config` load, so the standard environment
//! (`AWS_REGION`, `AWS_ENDPOINT_URL`, credentials, ...) points every one of them at the
//! same place: an AWS account, or the local AWS world.

pub use aws_config::SdkConfig;

/// Loads the shared configuration from the standard environment, with [`retry_config`].
/// Call once at cold start.
pub async fn load_config() -> SdkConfig {
    aws_config::from_env()
        .retry_config(retry_config())
        .load()
        .await
}

/// API throttling is per account and Region, shared by every caller: when a fleet's drains
/// start together, each service's bucket is emptied at once (Auto Scaling's first: every
/// drain's first call is a heartbeat, and one bucket serves all its actions). The SDK
/// retries throttling, 5xx answers, timeouts and connection errors with exponential backoff
/// and full jitter: up to 8 attempts, each wait random up to 2 s, 4 s, 8 s, then 10 s (the
/// SDK's default is 3 attempts from 1 s, each wait up to 20 s), so that a fleet's retries
/// spread out near the buckets' refill rates. The waits of one call add up to 54 s at
/// worst; a step whose calls are all throttled at length reaches the functions' 60 s
/// timeout first (`Sandbox.Timedout`). What still fails reaches the state machine as
/// `Retryable`, which retries the whole step and redoes every call it made, the ones that
/// had succeeded too: so waiting longer inside the step costs fewer calls. (A sandbox's
/// retries also draw on the SDK's retry quota, which successes refill; once it is spent,
/// calls fail at their first throttling and the state machine's retries carry on.)
/// Measured in the fleet case of `make test-reliability` (20 drains under a tenth of AWS's
/// rate limits): 5 attempts from 0.5 s, 2.4x to 3.4x a single drain's calls; 5 from 2 s,
/// 1.84x to 2.07x (36 step retries); 8 from 2 s up to 10 s, 1.45x to 1.55x (8 step retries).
pub fn retry_config() -> aws_config::retry::RetryConfig {
    aws_config::retry::RetryConfig::standard()
        .with_max_attempts(8)
        .with_initial_backoff(std::time::Duration::from_secs(2))
        .with_max_backoff(std::time::Duration::from_secs(10))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_client_retries_throttling_eight_times_with_backoff() {
        let retry = retry_config();
        assert_eq!(retry.max_attempts(), 8);
        assert_eq!(retry.initial_backoff(), std::time::Duration::from_secs(2));
        assert_eq!(retry.max_backoff(), std::time::Duration::from_secs(10));
        let config = load_config().await;
        assert_eq!(config.retry_config(), Some(&retry));
    }
}
