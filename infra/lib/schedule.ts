import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** The role EventBridge Scheduler assumes to invoke `fn` and dead-letter what it cannot deliver. */
export function scheduleRole(
  scope: Construct,
  id: string,
  what: string,
  fn: lambda.IFunction,
  deadLetterQueue: sqs.IQueue,
): iam.Role {
  return new iam.Role(scope, id, {
    assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
      conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(scope).account } },
    }),
    description: `EventBridge Scheduler: invoke the ${what}, dead-letter what it cannot deliver.`,
    inlinePolicies: {
      Invoke: new iam.PolicyDocument({
        statements: [
          new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [fn.functionArn] }),
          new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [deadLetterQueue.queueArn] }),
        ],
      }),
    },
  });
}

/**
 * How Lambda treats the runs Scheduler hands `fn` (asynchronously, so Scheduler's own retries and
 * dead-letter queue end once Lambda has the event): a failed run is not retried, since the next
 * tick does the same work; a run throttled in Lambda's queue waits at most a minute; and a run
 * Lambda gives up on goes to `deadLetterQueue`, where the queue's alarm and `ecs-sta doctor` see
 * it. Without the destination such a run would be gone unseen.
 */
export function scheduledRuns(fn: lambda.Function, deadLetterQueue: sqs.IQueue): void {
  fn.configureAsyncInvoke({
    retryAttempts: 0,
    maxEventAge: Duration.seconds(60),
    onFailure: {
      // Lambda sends the record with the function's role, which needs only sqs:SendMessage
      // (aws-lambda-destinations' SqsDestination would grant reads of the queue too).
      bind: (_scope, target) => {
        target.addToRolePolicy(
          new iam.PolicyStatement({
            sid: ON_FAILURE_SID,
            actions: ['sqs:SendMessage'],
            resources: [deadLetterQueue.queueArn],
          }),
        );
        return { destination: deadLetterQueue.queueArn };
      },
    },
  });
}

/** The statement that lets Lambda send a scheduled function's lost runs to the dead-letter queue. */
export const ON_FAILURE_SID = 'LostRunsToDeadLetterQueue';

export interface RateScheduleProps {
  readonly description: string;
  readonly rateMinutes: number;
  readonly fn: lambda.IFunction;
  readonly role: iam.IRole;
  readonly input: string;
  readonly deadLetterQueue: sqs.IQueue;
}

/** A schedule that invokes `fn` with a constant input every `rateMinutes`. */
export function rateSchedule(scope: Construct, id: string, props: RateScheduleProps): scheduler.CfnSchedule {
  const { rateMinutes } = props;
  return new scheduler.CfnSchedule(scope, id, {
    description: props.description,
    scheduleExpression: `rate(${rateMinutes} ${rateMinutes === 1 ? 'minute' : 'minutes'})`,
    flexibleTimeWindow: { mode: 'OFF' },
    state: 'ENABLED',
    target: {
      arn: props.fn.functionArn,
      roleArn: props.role.roleArn,
      input: props.input,
      // Retrying past the next tick is pointless: that tick does the same work.
      retryPolicy: { maximumRetryAttempts: 2, maximumEventAgeInSeconds: Math.max(60, rateMinutes * 60) },
      deadLetterConfig: { arn: props.deadLetterQueue.queueArn },
    },
  });
}
