//! Support for tests that run against a real AWS API emulator: starts moto's server on a
//! free loopback port (the server binds it and reports it) and stops it when dropped; the
//! configuration and environment that point clients at an emulator (moto or the local AWS
//! world).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The repository root (this crate lives in `tests/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// An SDK configuration pointing at an emulator at `endpoint`, with dummy credentials.
pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-west-2"))
        .credentials_provider(aws_sdk_ecs::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .load()
        .await
}

/// The environment a child process needs to talk to an emulator at `endpoint`.
pub fn endpoint_env(endpoint: &str) -> [(&'static str, String); 4] {
    [
        ("AWS_ENDPOINT_URL", endpoint.to_string()),
        ("AWS_REGION", "us-west-2".to_string()),
        ("AWS_ACCESS_KEY_ID", "testing".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
    ]
}

const INSTALL: &str =
    "moto not found: run `make deps-py` (creates .venv with the pinned moto[server]), or `pip install 'moto[server]==5.2.1'`";

/// The Python that has moto: `$MOTO_PYTHON`, then the repository's `.venv`, then `python3`.
pub fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("MOTO_PYTHON") {
        return PathBuf::from(path);
    }
    let venv = repo_root().join(".venv/bin/python");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("python3")
}

/// Starts a server that binds a free loopback port itself and reports it on its first line of
/// standard output as `<ready> http://127.0.0.1:PORT`: no port is chosen beforehand, so no
/// other process can take it in between. Returns the child and its endpoint.
pub fn start_reporting_server(mut command: Command, ready: &str, what: &str) -> (Child, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {what} ({error}); {INSTALL}"));
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .unwrap_or_else(|error| panic!("{what} said nothing ({error}); {INSTALL}"));
    let Some(endpoint) = line.trim().strip_prefix(ready).map(str::trim) else {
        child.kill().ok();
        child.wait().ok();
        panic!("{what} did not start: {line:?}; {INSTALL}");
    };
    let endpoint = endpoint.to_string();
    (child, endpoint)
}

/// moto's own server, on the port it binds, until stdin closes (the parent's end is dropped).
const MOTO: &str = "\
import sys
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address='127.0.0.1', port=0, verbose=False)
server.start()
host, port = server.get_host_and_port()
print(f'moto ready on http://{host}:{port}', flush=True)
sys.stdin.read()
";

/// A moto server of our own, on a free port, stopped on drop.
pub struct MotoServer {
    child: Child,
    pub endpoint: String,
}

impl MotoServer {
    pub fn start() -> Self {
        let mut command = Command::new(python());
        command.args(["-c", MOTO]).stdin(Stdio::piped());
        let (child, endpoint) = start_reporting_server(command, "moto ready on", "moto");
        Self { child, endpoint }
    }

    /// An SDK configuration pointing at this server, with dummy credentials.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        sdk_config(&self.endpoint).await
    }

    /// The environment a child process needs to talk to this server.
    pub fn env(&self) -> [(&'static str, String); 4] {
        endpoint_env(&self.endpoint)
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        // Best effort: the process may already be gone.
        if self.child.kill().is_ok() {
            self.child.wait().ok();
        }
    }
}

/// Launches `count` EC2 instances as an Auto Scaling group `<cluster>-asg` would.
pub async fn launch_instances(
    config: &aws_config::SdkConfig,
    cluster: &str,
    count: usize,
) -> Vec<String> {
    let autoscaling = aws_sdk_autoscaling::Client::new(config);
    let name = format!("{cluster}-asg");
    autoscaling
        .create_launch_configuration()
        .launch_configuration_name(&name)
        .image_id("ami-12c6146b")
        .instance_type("t3.micro")
        .send()
        .await
        .expect("CreateLaunchConfiguration");
    let size = i32::try_from(count).expect("a small group");
    autoscaling
        .create_auto_scaling_group()
        .auto_scaling_group_name(&name)
        .launch_configuration_name(&name)
        .availability_zones("us-west-2a")
        .min_size(0)
        .max_size(size)
        .desired_capacity(size)
        .send()
        .await
        .expect("CreateAutoScalingGroup");
    autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(&name)
        .send()
        .await
        .expect("DescribeAutoScalingGroups")
        .auto_scaling_groups()
        .first()
        .expect("the group")
        .instances()
        .iter()
        .filter_map(|instance| instance.instance_id().map(str::to_string))
        .collect()
}

/// A cluster of `count` EC2-backed container instances (in the group `<cluster>-asg`)
/// with one service, in moto. Returns the container instance ARNs.
pub async fn single_task_cluster(
    config: &aws_config::SdkConfig,
    cluster: &str,
    service: &str,
    count: usize,
    desired: i32,
) -> Vec<String> {
    let ecs = aws_sdk_ecs::Client::new(config);
    ecs.create_cluster()
        .cluster_name(cluster)
        .send()
        .await
        .expect("CreateCluster");
    let mut arns = Vec::with_capacity(count);
    for instance_id in launch_instances(config, cluster, count).await {
        let document = serde_json::json!({"instanceId": instance_id, "region": "us-west-2"});
        let registered = ecs
            .register_container_instance()
            .cluster(cluster)
            .instance_identity_document(document.to_string())
            .send()
            .await
            .expect("RegisterContainerInstance");
        arns.push(
            registered
                .container_instance()
                .and_then(|instance| instance.container_instance_arn())
                .expect("an ARN")
                .to_string(),
        );
    }
    ecs.register_task_definition()
        .family(service)
        .container_definitions(
            aws_sdk_ecs::types::ContainerDefinition::builder()
                .name(service)
                .image("nginx")
                .memory(128)
                .build(),
        )
        .send()
        .await
        .expect("RegisterTaskDefinition");
    ecs.create_service()
        .cluster(cluster)
        .service_name(service)
        .task_definition(service)
        .desired_count(desired)
        .send()
        .await
        .expect("CreateService");
    arns
}

/// The service's desired count as moto reports it.
pub async fn desired_count(ecs: &aws_sdk_ecs::Client, cluster: &str, service: &str) -> i32 {
    ecs.describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .expect("DescribeServices")
        .services()
        .first()
        .expect("the service")
        .desired_count()
}

/// Sets these container instances DRAINING, as a scale-in does.
pub async fn set_draining(ecs: &aws_sdk_ecs::Client, cluster: &str, arns: &[String]) {
    ecs.update_container_instances_state()
        .cluster(cluster)
        .set_container_instances(Some(arns.to_vec()))
        .status(aws_sdk_ecs::types::ContainerInstanceStatus::Draining)
        .send()
        .await
        .expect("UpdateContainerInstancesState");
}
