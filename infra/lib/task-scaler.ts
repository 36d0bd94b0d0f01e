import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { FunctionDeps, rustFunction } from './rust-function';
import { rateSchedule, scheduledRuns, scheduleRole } from './schedule';
import { Scopes } from './scopes';
import { scalerInput, Settings } from './settings';

export interface TaskScalerProps {
  readonly settings: Settings;
  readonly deps: FunctionDeps;
  readonly scopes: Scopes;
  readonly deadLetterQueue: sqs.IQueue;
}

/**
 * The N+1 task scaler: one function, and one schedule per scaled service, each with that
 * service's input (so each run decides, and logs its decision, for one service).
 */
export class TaskScaler extends Construct {
  public readonly function: lambda.Function;
  /** One per scaled service, cluster after cluster, in the order of the props. */
  public readonly schedules: scheduler.CfnSchedule[];
  /** The role the schedules invoke the function with. */
  public readonly scheduleRole: iam.Role;

  constructor(scope: Construct, id: string, props: TaskScalerProps) {
    super(scope, id);
    this.function = rustFunction(this, 'Function', props.deps, {
      name: 'task-scaler',
      description: "Keeps each scaled ECS service's desired count at usable instances minus N (N+1).",
      timeout: Duration.seconds(50),
      environment: {},
      scopes: props.scopes,
    });
    scheduledRuns(this.function, props.deadLetterQueue);

    this.scheduleRole = scheduleRole(this, 'ScheduleRole', 'N+1 task scaler', this.function, props.deadLetterQueue);
    const services = props.settings.clusters.flatMap((cluster) =>
      cluster.services.map((service) => ({ cluster, service })),
    );
    const stack = Stack.of(this);
    this.schedules = services.map(({ cluster, service }, i) =>
      rateSchedule(this, services.length === 1 ? 'Schedule' : `Schedule${i + 1}`, {
        description: `Runs the N+1 task scaler for one service (${services.length === 1 ? 'the' : `${i + 1} of ${services.length}`}).`,
        rateMinutes: props.settings.scheduleRateMinutes,
        fn: this.function,
        role: this.scheduleRole,
        input: stack.toJsonString(scalerInput(cluster, service)),
        deadLetterQueue: props.deadLetterQueue,
      }),
    );
  }
}
