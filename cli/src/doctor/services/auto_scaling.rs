//! A second writer of a service's desired count: Application Auto Scaling ("Service auto
//! scaling is the ability to increase or decrease the desired count of tasks in your Amazon
//! ECS service automatically"). Beside the task scaler, which sets the count every minute, the
//! two set it in turn, and at each turn ECS stops or starts a task; beside a service the task
//! scaler leaves alone, a scale-out can take the spare instance a drained task needs.

use std::collections::HashMap;

use aws_sdk_applicationautoscaling::types::{ScalableDimension, ScalableTarget, ServiceNamespace};
use sta_shared::batches::in_batches;

use crate::doctor::machine::ScalerSchedule;
use crate::doctor::{short_name, Check, Clients};
use crate::CliError;

/// DescribeScalableTargets takes at most 50 resource ids a call.
const RESOURCE_IDS_BATCH: usize = 50;

pub const NAME: &str = "service-auto-scaling";

/// The scalable target on the desired count of each of `services` (by name) that has one.
pub async fn scalable_targets(
    clients: &Clients,
    cluster: &str,
    services: &[String],
) -> Result<HashMap<String, ScalableTarget>, CliError> {
    // The resource id names the cluster ("service/<cluster-name>/<service-name>")
    let cluster = short_name(cluster);
    let ids: Vec<String> = services
        .iter()
        .map(|service| format!("service/{cluster}/{service}"))
        .collect();
    let answers = in_batches(&ids, RESOURCE_IDS_BATCH, |batch| {
        clients
            .application_autoscaling
            .describe_scalable_targets()
            .service_namespace(ServiceNamespace::Ecs)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .set_resource_ids(Some(batch))
            .send()
    })
    .await?;
    let prefix = format!("service/{cluster}/");
    Ok(answers
        .iter()
        .flat_map(|answer| answer.scalable_targets())
        .filter_map(|target| {
            let service = target.resource_id().strip_prefix(&prefix)?;
            Some((service.to_string(), target.clone()))
        })
        .collect())
}

/// The `service-auto-scaling` check of `service` in `cluster`: `target`, its scalable target on
/// the desired count, if any; `scalers`, the stack's task scaler schedules (`None` without a
/// stack: whether the task scaler sets this service's count is unknown).
pub fn check(
    cluster: &str,
    service: &str,
    target: Option<&ScalableTarget>,
    scalers: Option<&[ScalerSchedule]>,
) -> Check {
    let subject = Some(service);
    let Some(target) = target else {
        return Check::pass(
            NAME,
            subject,
            "no Application Auto Scaling on its desired count",
        );
    };
    let range = format!(
        "Application Auto Scaling sets its desired count too (scalable target, min {}, max {})",
        target.min_capacity(),
        target.max_capacity()
    );
    if target.suspended_state().is_some_and(|suspended| {
        suspended.dynamic_scaling_in_suspended() == Some(true)
            && suspended.dynamic_scaling_out_suspended() == Some(true)
            && suspended.scheduled_scaling_suspended() == Some(true)
    }) {
        return Check::pass(
            NAME,
            subject,
            format!("{range}, but all its scaling is suspended"),
        );
    }
    let cluster = short_name(cluster);
    let deregister = format!(
        "aws application-autoscaling deregister-scalable-target --service-namespace ecs \
         --scalable-dimension ecs:service:DesiredCount --resource-id service/{cluster}/{service}"
    );
    let by_scaler = scalers.map(|scalers| {
        scalers.iter().find(|scaler| {
            short_name(&scaler.cluster) == cluster && short_name(&scaler.service) == service
        })
    });
    match by_scaler {
        Some(Some(scaler)) => Check::fail(
            NAME,
            subject,
            format!(
                "{range}, and the task scaler sets it every run (schedule {}): each sets it in turn, and ECS \
                 stops or starts a task at every turn",
                scaler.schedule
            ),
            format!("let the task scaler keep N+1 alone: {deregister}"),
        ),
        Some(None) => Check::warn(
            NAME,
            subject,
            format!(
                "{range}: a scale-out can take the spare instance a drained task needs (the task scaler \
                 does not set this service's count)"
            ),
            format!("count its maximum in the group's spare capacity, or let the task scaler size it: {deregister}"),
        ),
        None => Check::warn(
            NAME,
            subject,
            format!(
                "{range}: if the task scaler sets it as well, each sets it in turn, and ECS stops or starts \
                 a task at every turn (give --stack to tell)"
            ),
            format!("let one of them size the service: {deregister}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_or_service_named_by_arn_is_the_same_one() {
        let target = ScalableTarget::builder()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id("service/prod/web")
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .min_capacity(1)
            .max_capacity(4)
            .role_arn("arn:aws:iam::123456789012:role/scaling")
            .creation_time(aws_smithy_types::DateTime::from_secs(0))
            .build()
            .unwrap();
        let scaler = ScalerSchedule {
            schedule: "scaler".into(),
            cluster: "prod".into(),
            service: "arn:aws:ecs:us-west-2:123456789012:service/prod/web".into(),
        };
        let cluster = "arn:aws:ecs:us-west-2:123456789012:cluster/prod";
        let found = check(cluster, "web", Some(&target), Some(&[scaler]));
        assert_eq!(found.status, crate::doctor::Status::Fail, "{found:?}");
        let fix = found.fix.unwrap_or_default();
        assert!(fix.ends_with("--resource-id service/prod/web"), "{fix}");
    }
}
