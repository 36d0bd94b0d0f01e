//! A group with a warm pool: "To use warm pools with your Amazon ECS cluster, set the
//! `ECS_WARM_POOLS_CHECK` agent configuration variable to `true` in the User data field of
//! your Amazon EC2 Auto Scaling group launch template" (Amazon ECS Developer Guide,
//! "Configuring pre-initialized instances for your Amazon ECS Auto Scaling group"). Without
//! it, an instance launched into the pool registers with the cluster while it warms, before
//! Auto Scaling stops it: ECS can place a task there, which dies with the stop, and the
//! cluster keeps a record of every warmed instance, disconnected, while it is stopped.
//!
//! And: "When you create or update a warm pool for an Auto Scaling group for Amazon ECS, you
//! cannot set the option that returns instances to the warm pool on scale in
//! (`ReuseOnScaleIn`)" (same guide). An instance stopped back into the pool keeps its ECS
//! agent's checkpoint, the ARN of its container instance: started again, the agent
//! reconnects to that record, DRAINING from the scale-in (nothing is placed there until the
//! sweeper sets it ACTIVE, `sta_shared::pool_return`), or, if it was deregistered, refuses
//! to start ("Container instance ... is inactive"; deregistering "is supposed to be final",
//! the agent's maintainers, amazon-ecs-agent issues 125 and 583).

use aws_sdk_autoscaling::types::{AutoScalingGroup, LaunchTemplateSpecification};

use super::super::{Check, Clients};
use crate::CliError;

const NAME: &str = "warm-pool";
const REUSE: &str = "warm-pool-reuse";
const SETTING: &str = "ECS_WARM_POOLS_CHECK=true";

/// The group's user data as its instances launch with it: its launch template's version
/// (`$Default` unless the group names one) or its launch configuration's, decoded; `None`
/// when it has none or it is not text (e.g. gzip-compressed).
async fn user_data(
    clients: &Clients,
    group: &AutoScalingGroup,
) -> Result<Option<String>, CliError> {
    let template = group.launch_template().or_else(|| {
        group
            .mixed_instances_policy()
            .and_then(|policy| policy.launch_template())
            .and_then(|template| template.launch_template_specification())
    });
    let encoded = match (template, group.launch_configuration_name()) {
        (Some(template), _) => template_user_data(clients, template).await?,
        (None, Some(name)) => clients
            .autoscaling
            .describe_launch_configurations()
            .launch_configuration_names(name)
            .send()
            .await?
            .launch_configurations()
            .first()
            .and_then(|configuration| configuration.user_data().map(str::to_string)),
        (None, None) => None,
    };
    Ok(encoded
        .and_then(|text| aws_smithy_types::base64::decode(text.trim()).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok()))
}

/// The user data (base64) of the launch template version the group launches.
async fn template_user_data(
    clients: &Clients,
    template: &LaunchTemplateSpecification,
) -> Result<Option<String>, CliError> {
    let answer = clients
        .ec2
        .describe_launch_template_versions()
        .set_launch_template_id(template.launch_template_id().map(str::to_string))
        .set_launch_template_name(template.launch_template_name().map(str::to_string))
        .versions(template.version().unwrap_or("$Default"))
        .send()
        .await?;
    Ok(answer
        .launch_template_versions()
        .first()
        .and_then(|version| version.launch_template_data())
        .and_then(|data| data.user_data().map(str::to_string)))
}

/// Whether a line of the user data sets the variable (spaces and quotes aside).
fn sets_the_check(user_data: &str) -> bool {
    user_data.lines().any(|line| {
        let bare: String = line
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '"' && *c != '\'')
            .collect();
        bare.contains(SETTING) && !bare.starts_with('#')
    })
}

/// The group's warm pool checks; none for a group without a warm pool.
pub async fn check(clients: &Clients, group: &AutoScalingGroup) -> Vec<Check> {
    let Some(pool) = group.warm_pool_configuration() else {
        return Vec::new();
    };
    let reuse = pool
        .instance_reuse_policy()
        .and_then(|policy| policy.reuse_on_scale_in())
        .unwrap_or(false);
    vec![
        user_data_check(clients, group).await,
        reuse_check(group, reuse),
    ]
}

/// `ReuseOnScaleIn`, which Amazon ECS does not support.
fn reuse_check(group: &AutoScalingGroup, reuse: bool) -> Check {
    let name = group.auto_scaling_group_name();
    if !reuse {
        return Check::pass(
            REUSE,
            name,
            "instances scaled in are terminated, not stopped back into the pool (ReuseOnScaleIn is not set), as Amazon ECS requires",
        );
    }
    Check::warn(
        REUSE,
        name,
        "ReuseOnScaleIn is set, which Amazon ECS does not support: an instance stopped back into the pool \
         comes back with its ECS agent bound to its old container instance, still DRAINING from the \
         scale-in, and is of no use until the sweeper's next run sets it ACTIVE (up to the sweep period \
         plus 60 s after it is back in service); a container instance someone deregistered meanwhile \
         never rejoins (the agent refuses to start on an inactive record)",
        "PutWarmPool again with the pool's settings and --instance-reuse-policy '{\"ReuseOnScaleIn\": false}'",
    )
}

/// The launch template's user data sets `ECS_WARM_POOLS_CHECK=true`.
async fn user_data_check(clients: &Clients, group: &AutoScalingGroup) -> Check {
    let name = group.auto_scaling_group_name();
    match user_data(clients, group).await {
        Ok(Some(text)) if sets_the_check(&text) => Check::pass(
            NAME,
            name,
            format!("the user data sets {SETTING}: instances warming in the pool stay out of the cluster"),
        ),
        Ok(found) => Check::warn(
            NAME,
            name,
            format!(
                "{}: an instance launched into the warm pool registers with the cluster while it warms, \
                 ECS can place a task there that dies when Auto Scaling stops it, and every stopped \
                 pool instance stays registered, disconnected",
                if found.is_some() {
                    format!("the user data does not set {SETTING}")
                } else {
                    format!("no user data readable as text, so {SETTING} cannot be seen")
                }
            ),
            format!("add {SETTING} to /etc/ecs/ecs.config in the launch template's user data (ECS agent 1.59.0 or later)"),
        ),
        Err(error) => Check::unreadable(NAME, name, &error),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_autoscaling::operation::describe_launch_configurations::DescribeLaunchConfigurationsOutput;
    use aws_sdk_autoscaling::types::{
        InstanceReusePolicy, LaunchConfiguration, WarmPoolConfiguration,
    };
    use aws_smithy_mocks::{mock, mock_client, Rule};
    use sta_shared::testing::query_error;

    use super::*;
    use crate::doctor::tests::fixture::Fixture;
    use crate::doctor::Status;

    /// A group launching from a launch configuration, with a warm pool.
    fn group() -> AutoScalingGroup {
        AutoScalingGroup::builder()
            .auto_scaling_group_name("g")
            .launch_configuration_name("lc")
            .warm_pool_configuration(WarmPoolConfiguration::builder().build())
            .build()
    }

    /// Doctor's clients, Auto Scaling answering with `rule` only.
    fn clients(rule: &Rule) -> Clients {
        let mut clients = Fixture::default().clients();
        clients.autoscaling = mock_client!(aws_sdk_autoscaling, [rule]);
        clients
    }

    #[tokio::test]
    async fn a_launch_configurations_user_data_is_read_too() {
        let configurations = mock!(aws_sdk_autoscaling::Client::describe_launch_configurations)
            .match_requests(|req| req.launch_configuration_names() == ["lc"])
            .then_output(|| {
                let configuration = LaunchConfiguration::builder()
                    .launch_configuration_name("lc")
                    .image_id("ami-1")
                    .instance_type("t3.micro")
                    .created_time(aws_smithy_types::DateTime::from_secs(0))
                    .user_data(aws_smithy_types::base64::encode(
                        "ECS_WARM_POOLS_CHECK=true\n",
                    ))
                    .build();
                DescribeLaunchConfigurationsOutput::builder()
                    .launch_configurations(configuration)
                    .build()
            });
        let found = user_data_check(&clients(&configurations), &group()).await;
        assert_eq!(found.status, Status::Pass, "{found:#?}");
        assert_eq!(configurations.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_launch_configuration_that_cannot_be_read_fails_naming_the_call() {
        let denied = mock!(aws_sdk_autoscaling::Client::describe_launch_configurations)
            .then_http_response(|| query_error(403, "AccessDenied", "from the test"));
        let found = user_data_check(&clients(&denied), &group()).await;
        assert_eq!(found.status, Status::Fail);
        assert!(
            found.detail.contains("DescribeLaunchConfigurations"),
            "{found:#?}"
        );
    }

    #[tokio::test]
    async fn returning_instances_to_the_pool_on_scale_in_fails() {
        let denied = || {
            mock!(aws_sdk_autoscaling::Client::describe_launch_configurations)
                .then_http_response(|| query_error(403, "AccessDenied", "from the test"))
        };
        for (reuse, status) in [
            (Some(true), Status::Warn),
            (Some(false), Status::Pass),
            (None, Status::Pass),
        ] {
            let policy = reuse.map(|reuse| {
                InstanceReusePolicy::builder()
                    .reuse_on_scale_in(reuse)
                    .build()
            });
            let group = AutoScalingGroup::builder()
                .auto_scaling_group_name("g")
                .launch_configuration_name("lc")
                .warm_pool_configuration(
                    WarmPoolConfiguration::builder()
                        .set_instance_reuse_policy(policy)
                        .build(),
                )
                .build();
            let checks = check(&clients(&denied()), &group).await;
            let found = checks.iter().find(|check| check.name == REUSE).unwrap();
            assert_eq!(found.status, status, "{reuse:?}: {found:#?}");
        }
        let without_pool = AutoScalingGroup::builder()
            .auto_scaling_group_name("g")
            .build();
        assert!(check(&clients(&denied()), &without_pool).await.is_empty());
    }

    #[test]
    fn the_setting_counts_only_where_a_line_sets_it() {
        let set = "#!/bin/bash\ncat <<'EOF' >> /etc/ecs/ecs.config\nECS_CLUSTER=c\nECS_WARM_POOLS_CHECK=true\nEOF\n";
        assert!(sets_the_check(set));
        assert!(sets_the_check(
            "echo \"ECS_WARM_POOLS_CHECK = true\" >> /etc/ecs/ecs.config"
        ));
        assert!(!sets_the_check("# ECS_WARM_POOLS_CHECK=true\n"));
        assert!(!sets_the_check("ECS_WARM_POOLS_CHECK=false\n"));
        assert!(!sets_the_check(
            "echo ECS_CLUSTER=c >> /etc/ecs/ecs.config\n"
        ));
    }
}
