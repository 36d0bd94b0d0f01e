use super::*;

/// The drain state machine deployed as CloudFormation deploys it, in a stack with other
/// resources; returns its ARN as Step Functions knows it.
async fn deploy_stack(world: &World, stack: &str) -> String {
    let template = json!({
        "Resources": {
            "DeadLetterQueue": {"Type": "AWS::SQS::Queue"},
            "DrainStateMachine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "StateMachineName": "drain-from-stack",
                    "DefinitionString": drain_definition().to_string(),
                    "RoleArn": ROLE
                }
            }
        }
    });
    create_stack(world, stack, template).await;
    let machines = world
        .client()
        .await
        .list_state_machines()
        .send()
        .await
        .expect("ListStateMachines");
    machines
        .state_machines()
        .iter()
        .find(|machine| machine.name() == "drain-from-stack")
        .expect("the stack created the state machine")
        .state_machine_arn()
        .to_string()
}

#[tokio::test]
async fn the_stack_names_the_state_machine() {
    let world = World::start();
    let machine = deploy_stack(&world, "ecs-sta-drain").await;
    let client = world.client().await;
    start_failing(&client, &machine).await;
    wait_until_stopped(&client, &machine).await;

    let rows = ok_json(ecs_sta(
        &world,
        &["executions", "--stack", "ecs-sta-drain", "--json"],
        &[],
    ));
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    assert_eq!(rows[0]["instance_id"], FAILING_INSTANCE);
    assert_eq!(rows[0]["status"], "FAILED");
    assert!(
        rows[0]["execution_arn"]
            .as_str()
            .unwrap()
            .starts_with(&machine.replace(":stateMachine:", ":execution:")),
        "{rows}"
    );

    // show by name, with the stack from the environment.
    let timeline = ok_json(ecs_sta(
        &world,
        &["show", "lifecycle-1", "--json"],
        &[("ECS_STA_STACK", "ecs-sta-drain")],
    ));
    assert_eq!(timeline["status"], "FAILED", "{timeline}");
    assert_eq!(timeline["instance_id"], FAILING_INSTANCE, "{timeline}");

    // --stack on the command line wins over an ARN in the environment.
    let dry = ok_json(ecs_sta(
        &world,
        &["replay", "--stack", "ecs-sta-drain", "--dry-run", "--json"],
        &[(
            "ECS_STA_STATE_MACHINE_ARN",
            "arn:aws:states:us-west-2:123456789012:stateMachine:other",
        )],
    ));
    assert_eq!(dry["items"][0]["action"], "would_redrive", "{dry}");

    // A stack that does not exist, and one without a state machine.
    create_stack(
        &world,
        "queue-only",
        json!({"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}}),
    )
    .await;
    for (args, says) in [
        (
            ["executions", "--stack", "missing"],
            "stack \"missing\" does not exist",
        ),
        (
            ["replay", "--stack", "queue-only"],
            "has no AWS::StepFunctions::StateMachine",
        ),
    ] {
        let out = ecs_sta(&world, &args, &[]);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

async fn create_stack(world: &World, stack: &str, template: Value) {
    aws_sdk_cloudformation::Client::new(&world.config().await)
        .create_stack()
        .stack_name(stack)
        .template_body(template.to_string())
        .send()
        .await
        .expect("CreateStack");
}

/// A drain that failed with a Lambda's error, whose cause Step Functions keeps as the
/// runtime's JSON: the commands print its message (the JSON stays in `--json`), and `show`
/// draws the drain in the terminal and, with `--svg`, into a file.
#[tokio::test]
async fn show_draws_the_drain_and_prints_the_message_of_a_lambdas_error() {
    let world = World::start();
    let client = world.client().await;
    let cause = json!({
        "errorType": "Retryable",
        "errorMessage": "CompleteLifecycleAction: ServiceUnavailable: try again"
    })
    .to_string();
    let machine = failing_at_completion(&client, &cause).await;
    let arn = start(
        &client,
        &machine,
        "lifecycle-2",
        lifecycle(FAILING_INSTANCE, TOKEN),
    )
    .await;
    wait_until_stopped(&client, &machine).await;

    let out = ecs_sta(&world, &["executions", "--state-machine", &machine], &[]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("Retryable: CompleteLifecycleAction: ServiceUnavailable: try again"),
        "{stdout}"
    );
    assert!(!stdout.contains("errorMessage"), "{stdout}");
    let rows = ok_json(ecs_sta(
        &world,
        &["executions", "--state-machine", &machine, "--json"],
        &[],
    ));
    assert_eq!(rows[0]["cause"], cause.as_str());

    shows_and_draws(&world, &arn);

    // A file that cannot be written fails the command, after the text was printed.
    let missing = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("missing/dir/x.svg");
    let out = ecs_sta(
        &world,
        &["show", &arn, "--svg", &missing.to_string_lossy()],
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stdout.contains("status      FAILED"), "{stdout}");
    assert!(stderr.contains("error: cannot write"), "{stderr}");
}

/// A state machine with the drain's state names whose CompleteLifecycleAction fails with a
/// Lambda's error (`cause`), as Step Functions reports it.
async fn failing_at_completion(client: &aws_sdk_sfn::Client, cause: &str) -> String {
    let definition = json!({
        "StartAt": "DrainContainerInstance",
        "States": {
            "DrainContainerInstance": {"Type": "Pass", "Next": "WaitForDrain"},
            "WaitForDrain": {"Type": "Wait", "Seconds": 1, "Next": "CompleteLifecycleAction"},
            "CompleteLifecycleAction": {"Type": "Fail", "Error": "Retryable", "Cause": cause}
        }
    });
    create_machine(client, "pictured", &definition).await
}

/// `ecs-sta show ARN --svg FILE`: the text names where and why it failed, the chart and the
/// picture show the steps.
fn shows_and_draws(world: &World, arn: &str) {
    let picture = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("lifecycle-2.svg");
    let picture_arg = picture.to_string_lossy().into_owned();
    let out = ecs_sta(world, &["show", arn, "--svg", &picture_arg], &[]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout
            .contains("status      FAILED at CompleteLifecycleAction, before the drain started\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("cause       CompleteLifecycleAction: ServiceUnavailable: try again\n"),
        "{stdout}"
    );
    let row = |label: &str| -> String {
        stdout
            .lines()
            .find(|line| line.starts_with(label))
            .unwrap_or_else(|| panic!("{label} in {stdout}"))
            .to_string()
    };
    assert!(row("WaitForDrain  ").contains('·'), "{stdout}");
    assert!(row("CompleteLifecycleAction  ").contains('✗'), "{stdout}");
    assert!(stderr.contains(&format!("wrote {picture_arg}")), "{stderr}");
    let svg = std::fs::read_to_string(&picture).expect("the SVG was written");
    assert!(
        svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{svg}"
    );
    assert!(svg.contains(">WaitForDrain</text>"), "{svg}");
    assert!(
        svg.contains(&format!(
            ">Drain of {FAILING_INSTANCE} (asg test-cluster-asg): lifecycle-2</text>"
        )),
        "{svg}"
    );
}
