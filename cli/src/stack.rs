//! `--stack NAME`: finds the drain state machine that a CloudFormation stack deployed,
//! so operators can name the stack they know instead of copying an ARN. The stack's
//! resources are listed (every page, nested stacks included: [`resources`], which doctor
//! reads the sweeper's schedule from too) and the one `AWS::StepFunctions::StateMachine`
//! among them is the answer; a stack with none, or with several, is an error that says
//! which were found.

use std::collections::VecDeque;

use crate::CliError;

const STATE_MACHINE: &str = "AWS::StepFunctions::StateMachine";
const NESTED_STACK: &str = "AWS::CloudFormation::Stack";
/// How many stacks are searched at most (the stack and its nested stacks, any depth).
const MAX_STACKS: usize = 50;

/// A resource that exists (created, not being deleted) in a stack or a nested stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub kind: String,
    pub logical_id: String,
    pub physical_id: String,
}

/// Every resource of `stack` (a stack name or ARN) and of its nested stacks, any depth,
/// every page; at most [`MAX_STACKS`] stacks.
pub async fn resources(
    client: &aws_sdk_cloudformation::Client,
    stack: &str,
) -> Result<Vec<Resource>, CliError> {
    let mut found = Vec::new();
    let mut stacks = VecDeque::from([stack.to_string()]);
    let mut searched = 0;
    while let Some(current) = stacks.pop_front() {
        searched += 1;
        if searched > MAX_STACKS {
            return Err(CliError::Failed(format!(
                "stack {stack:?} has more than {MAX_STACKS} nested stacks: the search stops there"
            )));
        }
        let summaries: Vec<_> = client
            .list_stack_resources()
            .stack_name(&current)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|error| not_found(stack, &current, CliError::from(error)))?;
        for summary in summaries {
            let (Some(kind), Some(physical_id)) =
                (summary.resource_type(), summary.physical_resource_id())
            else {
                continue; // not created (yet): nothing to point at
            };
            if summary
                .resource_status()
                .is_some_and(|status| status.as_str().starts_with("DELETE_"))
            {
                continue;
            }
            if kind == NESTED_STACK {
                stacks.push_back(physical_id.to_string());
            }
            found.push(Resource {
                kind: kind.to_string(),
                logical_id: summary
                    .logical_resource_id()
                    .unwrap_or_default()
                    .to_string(),
                physical_id: physical_id.to_string(),
            });
        }
    }
    Ok(found)
}

/// The ARN of the one state machine in `stack` (a stack name or ARN) or its nested stacks.
pub async fn state_machine_arn(
    client: &aws_sdk_cloudformation::Client,
    stack: &str,
) -> Result<String, CliError> {
    if stack.trim().is_empty() {
        return Err(CliError::input("--stack: the stack name is empty"));
    }
    let found: Vec<Resource> = resources(client, stack)
        .await?
        .into_iter()
        .filter(|resource| resource.kind == STATE_MACHINE)
        .collect();
    match found.as_slice() {
        [one] => Ok(one.physical_id.clone()),
        [] => Err(CliError::Failed(format!(
            "stack {stack:?} has no {STATE_MACHINE}; is it the stack that deployed ecs-single-task-autoscaling?"
        ))),
        several => Err(CliError::Failed(format!(
            "stack {stack:?} has {} state machines ({}); give --state-machine ARN to choose",
            several.len(),
            several
                .iter()
                .map(|one| format!("{} = {}", one.logical_id, one.physical_id))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// CloudFormation says a missing stack with a ValidationError "Stack with id X does not
/// exist": turn it into an answer that names the stack the operator gave.
fn not_found(asked: &str, current: &str, error: CliError) -> CliError {
    match &error {
        CliError::Aws { code, message, .. }
            if code == "ValidationError" && message.contains("does not exist") =>
        {
            if asked == current {
                CliError::Failed(format!(
                    "stack {asked:?} does not exist (in this account and region)"
                ))
            } else {
                CliError::Failed(format!(
                    "nested stack {current:?} of {asked:?} does not exist"
                ))
            }
        }
        _ => error,
    }
}

#[cfg(test)]
mod tests;
