//! Which instance the drill terminates: the one given (it must be InService in a managed
//! group), or the first (by instance id) InService instance that runs a task of the
//! services given, one with a replica service's task before one with only a daemon's.

use crate::doctor::services::{self, Service};
use crate::doctor::{fleet, hooks, Clients};
use crate::CliError;

use super::sample::Watched;
use super::DrillOptions;

/// The instance the drill terminates and the services whose capacity it watches.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub instance_id: String,
    pub asg: String,
    pub container_instance_arn: String,
    /// The services watched (with their desired count and minimum as the drill began).
    pub services: Vec<Service>,
    /// The services with a task on the instance.
    pub on_instance: Vec<String>,
}

pub async fn choose(clients: &Clients, options: &DrillOptions) -> Result<Target, CliError> {
    let cluster = &options.doctor.cluster;
    let described = hooks::describe(clients, &options.doctor.asgs).await?;
    // the drill terminates an instance in service: the warm pools' instances are not read
    let groups = hooks::Groups {
        found: described.iter().map(|g| hooks::summary(g, &[])).collect(),
        read: true,
    };
    let instances = fleet::container_instances(clients, cluster, &groups).await?;
    let mut all = Vec::new();
    for service in services::describe(clients, &options.doctor).await? {
        if service.status() != Some("ACTIVE") {
            continue;
        }
        let mut summary = services::summary(&service);
        summary.hosts = services::hosts(clients, cluster, &summary.name).await?;
        all.push(summary);
    }
    let group_of = |instance: &str| {
        groups
            .found
            .iter()
            .find(|g| {
                g.instances
                    .iter()
                    .any(|i| i.id == instance && i.state == "InService")
            })
            .map(|g| g.name.clone())
    };
    let chosen = match &options.instance {
        Some(id) => {
            let asg = group_of(id).ok_or_else(|| {
                CliError::input(format!(
                    "--instance {id} is not InService in {}: the drill terminates only instances of the managed groups",
                    options.doctor.asgs.join(", ")
                ))
            })?;
            let ci = instances
                .iter()
                .find(|ci| &ci.ec2_instance_id == id)
                .ok_or_else(|| {
                    CliError::input(format!(
                        "--instance {id} is not a container instance of cluster {cluster}"
                    ))
                })?;
            (id.clone(), asg, ci.arn.clone())
        }
        None => candidates(&all, &instances, &group_of)
            .into_iter()
            .next()
            .ok_or_else(|| {
                CliError::Failed(format!(
                    "no instance InService in {} runs a task of {}: nothing to drill",
                    options.doctor.asgs.join(", "),
                    options.doctor.services.join(", ")
                ))
            })?,
    };
    let (instance_id, asg, container_instance_arn) = chosen;
    let on_instance: Vec<String> = all
        .iter()
        .filter(|s| s.hosts.contains(&container_instance_arn))
        .map(|s| s.name.clone())
        .collect();
    let services = if options.doctor.services.is_empty() {
        all.into_iter()
            .filter(|s| on_instance.contains(&s.name))
            .collect()
    } else {
        all
    };
    Ok(Target {
        instance_id,
        asg,
        container_instance_arn,
        services,
        on_instance,
    })
}

/// (instance id, group, container instance) of every InService instance that runs a task
/// of one of `services`: those with a replica service's task first (a daemon runs everywhere),
/// then by instance id.
fn candidates(
    services: &[Service],
    instances: &[fleet::ContainerInstance],
    group_of: &dyn Fn(&str) -> Option<String>,
) -> Vec<(String, String, String)> {
    let runs = |ci: &fleet::ContainerInstance, daemon: bool| {
        services
            .iter()
            .any(|s| s.daemon == daemon && s.hosts.contains(&ci.arn))
    };
    let mut found: Vec<_> = instances
        .iter()
        .filter(|ci| ci.usable() && (runs(ci, false) || runs(ci, true)))
        .filter_map(|ci| {
            let group = group_of(&ci.ec2_instance_id)?;
            Some((
                !runs(ci, false),
                (ci.ec2_instance_id.clone(), group, ci.arn.clone()),
            ))
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, candidate)| candidate).collect()
}

/// What the drill is about to do, in words.
pub fn plan(target: &Target, watched: &[Watched], options: &DrillOptions) -> String {
    let mut lines = vec![format!(
        "{} {} in {} (runs {}): TerminateInstanceInAutoScalingGroup without decrementing the desired capacity",
        if options.dry_run { "would terminate" } else { "terminating" },
        target.instance_id,
        target.asg,
        if target.on_instance.is_empty() { "no service task".to_string() } else { target.on_instance.join(", ") }
    )];
    for w in watched {
        lines.push(format!(
            "  watching {}: at least {} healthy serving (minimum healthy of the service's desired count)",
            w.label, w.minimum
        ));
    }
    lines.push(format!(
        "  then: the drain execution within {}s, followed for at most {}s, sampled every {:.1}s",
        options.start_timeout.as_secs(),
        options.timeout.as_secs(),
        options.sample_every.as_secs_f64()
    ));
    if options.dry_run {
        lines.push("--dry-run: nothing was done".to_string());
    }
    lines.join("\n")
}
