//! Classic ELB reads and writes more than one Lambda makes.

use aws_sdk_elasticloadbalancing::types::Instance;

use crate::error::{aws_error, classic_elb_not_registered, error_code, unless_gone};
use crate::StepError;

/// The error code of a Classic ELB that does not exist (any more).
pub const LOAD_BALANCER_GONE: &str = "LoadBalancerNotFound";

/// Where an instance stands in one Classic ELB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassicRegistration {
    /// Listed in the load balancer's `Instances` (`DescribeLoadBalancers`): registered and
    /// not deregistered. A deregistered instance leaves that list at once, while its
    /// connection draining still runs.
    pub registered: bool,
    /// `DescribeInstanceHealth` says `InService`: serving, or, once deregistered, still
    /// draining ("Instance deregistration currently in progress"). An unhealthy registered
    /// instance is `OutOfService`; once deregistered it is "not registered" at once, while
    /// the load balancer still completes its in-flight requests, unseen
    /// ([`crate::state::ClassicElb::unhealthy`]).
    pub in_service: bool,
    /// `DescribeInstanceHealth` says `Unknown` ("Valid values: InService | OutOfService |
    /// Unknown", Elastic Load Balancing API reference, InstanceState; "A transient error
    /// occurred. Please try again later."): the instance may still be serving or draining,
    /// and it may be unhealthy.
    pub state_unknown: bool,
    /// How long a newly registered instance takes to be `InService`: the health check's
    /// healthy threshold x interval.
    pub healthy_after_seconds: u64,
}

impl ClassicRegistration {
    /// Deregistered and no longer serving: drained. Judged from the structured fields
    /// (the `Instances` list and `State`), never from the free-text description; a state
    /// `Unknown` is not drained.
    pub fn drained(&self) -> bool {
        !self.registered && !self.in_service && !self.state_unknown
    }

    /// Whether, once deregistered, it may have in-flight requests that no API shows:
    /// registered but `OutOfService` (failing its health checks), or in a state `Unknown`.
    /// The drain then waits out the draining timeout ([`crate::state::ClassicElb::unhealthy`]).
    pub fn may_hide_requests(&self) -> bool {
        self.state_unknown || (self.registered && !self.in_service)
    }
}

/// The instance's registration in a Classic ELB; `None` when the load balancer is gone.
pub async fn classic_registration(
    elb: &aws_sdk_elasticloadbalancing::Client,
    name: &str,
    instance_id: &str,
) -> Result<Option<ClassicRegistration>, StepError> {
    let described = elb
        .describe_load_balancers()
        .load_balancer_names(name)
        .send()
        .await;
    let Some(described) = unless_gone(described, &[LOAD_BALANCER_GONE], "DescribeLoadBalancers")?
    else {
        return Ok(None);
    };
    let Some(balancer) = described.load_balancer_descriptions().first() else {
        return Ok(None);
    };
    let registered = balancer
        .instances()
        .iter()
        .any(|instance| instance.instance_id() == Some(instance_id));
    let healthy_after_seconds = balancer.health_check().map_or(0, |check| {
        u64::try_from(check.healthy_threshold().saturating_mul(check.interval())).unwrap_or(0)
    });
    let health = elb
        .describe_instance_health()
        .load_balancer_name(name)
        .instances(Instance::builder().instance_id(instance_id).build())
        .send()
        .await;
    let state = match health {
        Err(error) if error_code(&error) == Some(LOAD_BALANCER_GONE) => return Ok(None),
        Err(error) if classic_elb_not_registered(&error) => None,
        Err(error) => return Err(aws_error("DescribeInstanceHealth", error)),
        Ok(output) => output
            .instance_states()
            .iter()
            .find(|state| state.instance_id().is_none_or(|id| id == instance_id))
            .and_then(|state| state.state().map(str::to_string)),
    };
    Ok(Some(ClassicRegistration {
        registered,
        in_service: state.as_deref() == Some("InService"),
        state_unknown: state.as_deref() == Some("Unknown"),
        healthy_after_seconds,
    }))
}

/// Deregisters the instance from a Classic ELB. Already deregistered, or the load
/// balancer gone, is success.
pub async fn deregister_classic(
    elb: &aws_sdk_elasticloadbalancing::Client,
    name: &str,
    instance_id: &str,
) -> Result<(), StepError> {
    let instance = Instance::builder().instance_id(instance_id).build();
    match elb
        .deregister_instances_from_load_balancer()
        .load_balancer_name(name)
        .instances(instance)
        .send()
        .await
    {
        Err(error) if classic_elb_not_registered(&error) => Ok(()),
        Err(error) => Err(aws_error("DeregisterInstancesFromLoadBalancer", error)),
        Ok(_) => Ok(()),
    }
}
