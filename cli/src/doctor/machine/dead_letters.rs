//! The stack's dead-letter queue (with `--stack`): what EventBridge could not deliver to the
//! state machine (a lifecycle event that started no drain), what EventBridge Scheduler could
//! not deliver to the sweeper or the task scaler, and the runs of those two Lambda gave up on
//! (their on-failure destination) end there. Nothing drains from it on its own, so every
//! message is something an operator has not looked at yet.

use aws_sdk_sqs::types::QueueAttributeName;

use crate::doctor::{readable, Check, Clients, Options};
use crate::CliError;

const QUEUE: &str = "AWS::SQS::Queue";
const NAME: &str = "dead-letter-queue";

/// A `dead-letter-queue` check per SQS queue of the stack: PASS when empty, WARN with how many
/// messages wait and how to read them.
pub async fn check(clients: &Clients, options: &Options, checks: &mut Vec<Check>) {
    let Some(stack) = &options.stack else {
        return;
    };
    let queues = crate::stack::resources(&clients.cloudformation, stack)
        .await
        .map(|resources| {
            resources
                .into_iter()
                .filter(|resource| resource.kind == QUEUE)
                .map(|resource| resource.physical_id)
                .collect::<Vec<_>>()
        });
    let Some(queues) = readable(queues, NAME, Some(stack), checks) else {
        return;
    };
    for url in queues {
        let waiting = waiting(clients, &url).await;
        if let Some(waiting) = readable(waiting, NAME, Some(&url), checks) {
            checks.push(judge(&url, waiting));
        }
    }
}

/// Messages in the queue, visible or being read (`ApproximateNumberOfMessages` plus
/// `ApproximateNumberOfMessagesNotVisible`).
async fn waiting(clients: &Clients, url: &str) -> Result<u64, CliError> {
    let answer = clients
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await?;
    let attributes = answer.attributes();
    let count = |name: &QueueAttributeName| {
        attributes
            .and_then(|found| found.get(name))
            .and_then(|value| value.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok(count(&QueueAttributeName::ApproximateNumberOfMessages)
        + count(&QueueAttributeName::ApproximateNumberOfMessagesNotVisible))
}

fn judge(url: &str, waiting: u64) -> Check {
    if waiting == 0 {
        return Check::pass(
            NAME,
            Some(url),
            "empty: every lifecycle event and schedule run was delivered",
        );
    }
    Check::warn(
        NAME,
        Some(url),
        format!(
            "{waiting} message(s) EventBridge or EventBridge Scheduler could not deliver, or Lambda \
             gave up on: a lifecycle event that started no drain (the sweeper starts one for an \
             instance still in Terminating:Wait; one that no longer waits left undrained), or a run \
             of the sweeper or the task scaler that did not happen; each says why, in its \
             ERROR_CODE and ERROR_MESSAGE attributes, or (Lambda's record) in its body's \
             requestContext.condition (EventAgeExceeded: throttled past a minute; RetriesExhausted: \
             the run failed)"
        ),
        format!(
            "read them: aws sqs receive-message --queue-url {url} --max-number-of-messages 10 \
             --message-attribute-names All; fix what they name (a role, a deleted target), then \
             delete each message (aws sqs delete-message) once handled"
        ),
    )
}
