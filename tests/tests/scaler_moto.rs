//! The task scaler's Lambda handler against a real moto server.

use integration_tests::{desired_count, set_draining, single_task_cluster, MotoServer};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::json;
use task_scaler::{handler, Deps};

#[tokio::test]
async fn the_handler_scales_a_250_instance_cluster_with_10_draining() {
    let moto = MotoServer::start();
    let config = moto.sdk_config().await;
    let ecs = aws_sdk_ecs::Client::new(&config);
    let arns = single_task_cluster(&config, "prod", "web", 250, 5).await;
    set_draining(&ecs, "prod", &arns[..10]).await;
    let deps = Deps {
        ecs: ecs.clone(),
        autoscaling: aws_sdk_autoscaling::Client::new(&config),
    };
    let event = |payload| LambdaEvent::new(payload, Context::default());

    // 240 usable - 1 = 239: raising is allowed while instances drain.
    let input =
        json!({"cluster_name": "prod", "service_name": "web", "min_task_count": 2, "n_count": 1});
    let decision = handler(&deps, event(input.clone())).await.unwrap();
    assert_eq!(decision.instances.usable, 240);
    assert_eq!(decision.instances.draining, 10);
    assert!(decision.changed);
    assert_eq!(desired_count(&ecs, "prod", "web").await, 239);

    // Same again: no change.
    let again = handler(&deps, event(input)).await.unwrap();
    assert!(!again.changed);
    assert_eq!(desired_count(&ecs, "prod", "web").await, 239);

    // A ceiling below the current count would lower it, but instances are draining: hold.
    let capped = json!({"cluster_name": "prod", "service_name": "web", "min_task_count": 2, "n_count": 1, "max_task_count": 50});
    let held = handler(&deps, event(capped.clone())).await.unwrap();
    assert!(!held.changed, "{held}");
    assert_eq!(desired_count(&ecs, "prod", "web").await, 239);

    // Once the drained instances are gone, the ceiling applies.
    for arn in &arns[..10] {
        ecs.deregister_container_instance()
            .cluster("prod")
            .container_instance(arn)
            .send()
            .await
            .expect("DeregisterContainerInstance");
    }
    let lowered = handler(&deps, event(capped)).await.unwrap();
    assert!(lowered.changed);
    assert_eq!(desired_count(&ecs, "prod", "web").await, 50);
}

#[tokio::test]
async fn unknown_services_clusters_and_daemon_services_are_named() {
    let moto = MotoServer::start();
    let config = moto.sdk_config().await;
    let ecs = aws_sdk_ecs::Client::new(&config);
    single_task_cluster(&config, "prod", "web", 3, 1).await;
    let deps = Deps {
        ecs,
        autoscaling: aws_sdk_autoscaling::Client::new(&config),
    };
    let input =
        json!({"cluster_name": "prod", "service_name": "api", "min_task_count": 1, "n_count": 1});
    let error = handler(&deps, LambdaEvent::new(input, Context::default()))
        .await
        .unwrap_err();
    assert_eq!(error.name(), "ResourceNotFound");
    assert!(error.to_string().contains("`api`"), "{error}");

    let input = json!({"cluster_name": "staging", "service_name": "web", "min_task_count": 1, "n_count": 1});
    let error = handler(&deps, LambdaEvent::new(input, Context::default()))
        .await
        .unwrap_err();
    assert_eq!(error.name(), "ResourceNotFound");
    assert!(error.to_string().contains("`staging`"), "{error}");

    // a DAEMON service: ECS would refuse its UpdateService a desired count
    deps.ecs
        .create_service()
        .cluster("prod")
        .service_name("agent")
        .task_definition("web")
        .scheduling_strategy(aws_sdk_ecs::types::SchedulingStrategy::Daemon)
        .send()
        .await
        .expect("CreateService");
    let input =
        json!({"cluster_name": "prod", "service_name": "agent", "min_task_count": 1, "n_count": 1});
    let error = handler(&deps, LambdaEvent::new(input, Context::default()))
        .await
        .unwrap_err();
    assert_eq!(error.name(), "Misconfigured");
    let said = error.to_string();
    assert!(
        said.contains("`service_name` names agent, a DAEMON service"),
        "{said}"
    );
}
