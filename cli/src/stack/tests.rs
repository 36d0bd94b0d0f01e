use super::*;
use aws_sdk_cloudformation::operation::list_stack_resources::ListStackResourcesOutput;
use aws_sdk_cloudformation::types::{ResourceStatus, StackResourceSummary};
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::retry::RetryConfig;
use sta_shared::testing::query_error;

const MACHINE: &str = "arn:aws:states:us-west-2:123456789012:stateMachine:DrainStateMachine-abc";
const NESTED: &str =
    "arn:aws:cloudformation:us-west-2:123456789012:stack/app-Drain-1/0a1b2c3d-0000-0000-0000-000000000000";

fn client(rules: &[&Rule]) -> aws_sdk_cloudformation::Client {
    mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, rules, |c| c
        .retry_config(RetryConfig::disabled()))
}

fn resource(kind: &str, logical_id: &str, physical_id: Option<&str>) -> StackResourceSummary {
    StackResourceSummary::builder()
        .resource_type(kind)
        .logical_resource_id(logical_id)
        .set_physical_resource_id(physical_id.map(str::to_string))
        .resource_status(ResourceStatus::CreateComplete)
        .last_updated_timestamp(aws_smithy_types::DateTime::from_secs(0))
        .build()
}

fn page(resources: Vec<StackResourceSummary>, next: Option<&str>) -> ListStackResourcesOutput {
    ListStackResourcesOutput::builder()
        .set_stack_resource_summaries(Some(resources))
        .set_next_token(next.map(str::to_string))
        .build()
}

/// ListStackResources of `stack` (and page `token`) answers `resources`.
fn listing(
    stack: &'static str,
    token: Option<&'static str>,
    next: Option<&'static str>,
    resources: impl Fn() -> Vec<StackResourceSummary> + Send + Sync + 'static,
) -> Rule {
    mock!(aws_sdk_cloudformation::Client::list_stack_resources)
        .match_requests(move |req| req.stack_name() == Some(stack) && req.next_token() == token)
        .then_output(move || page(resources(), next))
}

#[tokio::test]
async fn finds_the_state_machine_on_any_page() {
    let first = listing("drain", None, Some("2"), || {
        vec![
            resource("AWS::IAM::Role", "DrainRole", Some("drain-role")),
            resource(
                "AWS::Lambda::Function",
                "CheckDrained",
                Some("check-drained"),
            ),
        ]
    });
    let second = listing("drain", Some("2"), None, || {
        vec![resource(STATE_MACHINE, "DrainStateMachine", Some(MACHINE))]
    });
    let client = client(&[&first, &second]);
    assert_eq!(state_machine_arn(&client, "drain").await.unwrap(), MACHINE);
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
}

#[tokio::test]
async fn looks_into_nested_stacks() {
    let parent = listing("app", None, None, || {
        vec![
            resource("AWS::S3::Bucket", "Assets", Some("assets")),
            resource(NESTED_STACK, "Drain", Some(NESTED)),
        ]
    });
    let nested = listing(NESTED, None, None, || {
        vec![resource(STATE_MACHINE, "DrainStateMachine", Some(MACHINE))]
    });
    let client = client(&[&parent, &nested]);
    assert_eq!(state_machine_arn(&client, "app").await.unwrap(), MACHINE);
    assert_eq!(nested.num_calls(), 1);
}

#[tokio::test]
async fn ignores_machines_being_deleted_or_not_created() {
    let listed = listing("drain", None, None, || {
        let mut old = resource(STATE_MACHINE, "OldMachine", Some("arn:old"));
        old.resource_status = Some(ResourceStatus::DeleteInProgress);
        vec![
            old,
            resource(STATE_MACHINE, "Pending", None),
            resource(STATE_MACHINE, "DrainStateMachine", Some(MACHINE)),
        ]
    });
    let client = client(&[&listed]);
    assert_eq!(state_machine_arn(&client, "drain").await.unwrap(), MACHINE);
}

#[tokio::test]
async fn a_stack_without_a_state_machine_is_an_error_naming_it() {
    let listed = listing("web", None, None, || {
        vec![resource("AWS::IAM::Role", "Role", Some("role"))]
    });
    let client = client(&[&listed]);
    let error = state_machine_arn(&client, "web").await.unwrap_err();
    assert_eq!(error.exit_code(), 1);
    assert_eq!(
        error.to_string(),
        "stack \"web\" has no AWS::StepFunctions::StateMachine; is it the stack that deployed ecs-single-task-autoscaling?"
    );
}

#[tokio::test]
async fn several_state_machines_ask_for_the_arn() {
    let listed = listing("two", None, None, || {
        vec![
            resource(STATE_MACHINE, "BlueDrain", Some("arn:blue")),
            resource(STATE_MACHINE, "GreenDrain", Some("arn:green")),
        ]
    });
    let client = client(&[&listed]);
    let error = state_machine_arn(&client, "two").await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "stack \"two\" has 2 state machines (BlueDrain = arn:blue, GreenDrain = arn:green); give --state-machine ARN to choose"
    );
}

#[tokio::test]
async fn a_missing_stack_is_named() {
    let missing =
        mock!(aws_sdk_cloudformation::Client::list_stack_resources).then_http_response(|| {
            query_error(400, "ValidationError", "Stack with id nope does not exist")
        });
    let client = client(&[&missing]);
    let error = state_machine_arn(&client, "nope").await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "stack \"nope\" does not exist (in this account and region)"
    );
    assert_eq!(error.exit_code(), 1);
}

#[tokio::test]
async fn a_missing_nested_stack_names_both() {
    let parent = listing("app", None, None, || {
        vec![resource(NESTED_STACK, "Drain", Some(NESTED))]
    });
    let nested = mock!(aws_sdk_cloudformation::Client::list_stack_resources)
        .match_requests(|req| req.stack_name() == Some(NESTED))
        .then_http_response(|| {
            query_error(400, "ValidationError", "Stack with id x does not exist")
        });
    let client = client(&[&parent, &nested]);
    let error = state_machine_arn(&client, "app").await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("nested stack {NESTED:?} of \"app\" does not exist")
    );
}

#[tokio::test]
async fn other_errors_keep_their_code() {
    for (status, code) in [
        (400, "Throttling"),
        (403, "AccessDenied"),
        (500, "InternalFailure"),
    ] {
        let failing = mock!(aws_sdk_cloudformation::Client::list_stack_resources)
            .then_http_response(move || query_error(status, code, "from the test"));
        let client = client(&[&failing]);
        let error = state_machine_arn(&client, "drain").await.unwrap_err();
        assert_eq!(error.code(), Some(code), "{error}");
        assert_eq!(
            error.to_string(),
            format!("ListStackResources: {code}: from the test")
        );
    }
}

#[tokio::test]
async fn an_empty_name_calls_nothing() {
    let never = mock!(aws_sdk_cloudformation::Client::list_stack_resources)
        .then_output(|| page(vec![], None));
    let client = client(&[&never]);
    let error = state_machine_arn(&client, " ").await.unwrap_err();
    assert_eq!(error.exit_code(), 2);
    assert_eq!(never.num_calls(), 0);
}

#[tokio::test]
async fn nested_stacks_are_bounded() {
    // A stack whose every listing points at another nested stack.
    let endless = mock!(aws_sdk_cloudformation::Client::list_stack_resources)
        .then_output(|| page(vec![resource(NESTED_STACK, "Deeper", Some(NESTED))], None));
    let client = client(&[&endless]);
    let error = state_machine_arn(&client, "deep").await.unwrap_err();
    assert_eq!(endless.num_calls(), MAX_STACKS);
    assert!(
        error.to_string().contains("more than 50 nested stacks"),
        "{error}"
    );
}
