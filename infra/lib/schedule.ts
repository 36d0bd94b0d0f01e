import { Stack } from 'aws-cdk-lib';
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
