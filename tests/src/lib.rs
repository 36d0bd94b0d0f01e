//! Support for tests that run against a real AWS API emulator: starts `moto_server` on a
//! free loopback port and stops it when dropped; the configuration and environment that
//! point clients at an emulator (moto or the local AWS world).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The repository root (this crate lives in `tests/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// A free loopback port for a server of the tests.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
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
    "moto_server not found: run `make deps-py` (creates .venv with the pinned moto[server]), or `pip install 'moto[server]==5.2.1'`";

/// Finds `moto_server`: `$MOTO_SERVER`, then the repository's `.venv`, then `PATH`.
fn moto_server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("MOTO_SERVER") {
        return PathBuf::from(path);
    }
    let venv = repo_root().join(".venv/bin/moto_server");
    if venv.exists() {
        return venv;
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("moto_server"))
                .find(|candidate| candidate.exists())
        })
        .unwrap_or_else(|| panic!("{INSTALL}"))
}

/// A moto server of our own, on a free port, stopped on drop.
pub struct MotoServer {
    child: Child,
    pub endpoint: String,
}

impl MotoServer {
    pub fn start() -> Self {
        let port = free_port();
        let child = Command::new(moto_server_binary())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start moto_server ({error}); {INSTALL}"));
        let server = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto_server did not listen on port {port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
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
