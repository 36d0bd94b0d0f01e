//! Classic ELB reads more than one Lambda makes.

use aws_sdk_elasticloadbalancing::types::Instance;

use crate::error::{aws_error, classic_elb_not_registered};
use crate::StepError;

/// The instance's state in a Classic ELB (`InService`, `OutOfService`, `Unknown`) from
/// `DescribeInstanceHealth`, the only call that shows connection draining: while it
/// runs the instance is still `InService` ("Instance deregistration currently in
/// progress"), although `DescribeLoadBalancers` no longer lists it. `None` when the
/// instance is not registered there or the load balancer is gone.
pub async fn classic_instance_state(
    elb: &aws_sdk_elasticloadbalancing::Client,
    name: &str,
    instance_id: &str,
) -> Result<Option<String>, StepError> {
    let health = elb
        .describe_instance_health()
        .load_balancer_name(name)
        .instances(Instance::builder().instance_id(instance_id).build())
        .send()
        .await;
    match health {
        Err(error) if classic_elb_not_registered(&error) => Ok(None),
        Err(error) => Err(aws_error("DescribeInstanceHealth", error)),
        Ok(output) => Ok(output
            .instance_states()
            .iter()
            .find(|state| state.instance_id().is_none_or(|id| id == instance_id))
            .map(|state| state.state().unwrap_or("Unknown").to_string())),
    }
}
