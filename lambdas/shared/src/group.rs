//! The Auto Scaling group, as more than one Lambda reads it.

use aws_sdk_autoscaling::types::AutoScalingGroup;

use crate::error::aws_error;
use crate::StepError;

/// The group named `asg`; `None` when it does not exist (any more).
pub async fn describe_group(
    autoscaling: &aws_sdk_autoscaling::Client,
    asg: &str,
) -> Result<Option<AutoScalingGroup>, StepError> {
    let output = autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(asg)
        .send()
        .await
        .map_err(|error| aws_error("DescribeAutoScalingGroups", error))?;
    Ok(output
        .auto_scaling_groups
        .unwrap_or_default()
        .into_iter()
        .find(|group| group.auto_scaling_group_name() == Some(asg)))
}

#[cfg(test)]
mod tests {
    use aws_sdk_autoscaling::operation::describe_auto_scaling_groups::DescribeAutoScalingGroupsOutput;
    use aws_smithy_mocks::mock;

    use super::*;
    use crate::testing::{assert_step_error, autoscaling_client, query_error, ASG};

    fn answering(names: &'static [&'static str]) -> aws_smithy_mocks::Rule {
        mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_groups).then_output(move || {
            DescribeAutoScalingGroupsOutput::builder()
                .set_auto_scaling_groups(Some(
                    names
                        .iter()
                        .map(|name| {
                            AutoScalingGroup::builder()
                                .auto_scaling_group_name(*name)
                                .build()
                        })
                        .collect(),
                ))
                .build()
        })
    }

    #[tokio::test]
    async fn the_named_group_or_none() {
        let found = answering(&[ASG]);
        let group = describe_group(&autoscaling_client(&[&found]), ASG)
            .await
            .unwrap();
        assert_eq!(group.unwrap().auto_scaling_group_name(), Some(ASG));
        // Only a group of that very name is the group.
        for names in [&[][..], &["another-asg"][..]] {
            let rule = answering(names);
            let group = describe_group(&autoscaling_client(&[&rule]), ASG)
                .await
                .unwrap();
            assert!(group.is_none());
        }
    }

    #[tokio::test]
    async fn throttling_is_retryable() {
        let throttled = mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_groups)
            .then_http_response(|| query_error(400, "Throttling", "Rate exceeded"));
        let error = describe_group(&autoscaling_client(&[&throttled]), ASG)
            .await
            .unwrap_err();
        assert_step_error(&error, "Retryable", "DescribeAutoScalingGroups");
    }
}
