import { Duration, Fn } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { FunctionDeps, rustFunction } from './rust-function';
import { rateSchedule, scheduledRuns, scheduleRole } from './schedule';
import { Scopes } from './scopes';
import { ClusterSettings } from './settings';

export interface SweeperProps {
  readonly cluster: ClusterSettings;
  readonly deps: FunctionDeps;
  /** With the state machine's scopes filled in. */
  readonly scopes: Scopes;
  readonly stateMachine: sfn.IStateMachine;
  readonly lifecycleHookName: string;
  readonly sweepRateMinutes: number;
  readonly deadLetterQueue: sqs.IQueue;
}

/**
 * Drains for lifecycle actions whose event never arrived, for one cluster. EventBridge
 * delivers on a best-effort basis: the sweeper lists the instances of the cluster's groups in
 * Terminating:Wait on our hook and starts an execution (named after the instance) for each one
 * that has none. The event it makes names the cluster (`ECS_CLUSTER`) as the hook's metadata
 * does, so there is one sweeper per cluster. It also sets ACTIVE again the cluster's container
 * instances a drain marked on their way back to a warm pool, once they are back in service.
 */
export class Sweeper extends Construct {
  public readonly function: lambda.Function;
  public readonly schedule: scheduler.CfnSchedule;
  public readonly scheduleRole: iam.Role;
  public readonly clusterName: string;

  constructor(scope: Construct, id: string, props: SweeperProps) {
    super(scope, id);
    this.clusterName = props.cluster.clusterName;
    this.function = rustFunction(this, 'Function', props.deps, {
      name: 'sweeper',
      description:
        'Starts a drain for every instance waiting on the terminate hook without one (a lost event); sets ACTIVE the container instances back from the warm pool.',
      timeout: Duration.seconds(60),
      environment: {
        STATE_MACHINE_ARN: props.stateMachine.stateMachineArn,
        MANAGED_ASG_NAMES: Fn.join(',', props.cluster.autoScalingGroupNames),
        LIFECYCLE_HOOK_NAME: props.lifecycleHookName,
        ECS_CLUSTER: props.cluster.clusterName,
      },
      scopes: props.scopes,
    });
    scheduledRuns(this.function, props.deadLetterQueue);
    this.scheduleRole = scheduleRole(this, 'ScheduleRole', 'sweeper', this.function, props.deadLetterQueue);
    this.schedule = rateSchedule(this, 'Schedule', {
      description: 'Runs the sweeper.',
      rateMinutes: props.sweepRateMinutes,
      fn: this.function,
      role: this.scheduleRole,
      input: '{}',
      deadLetterQueue: props.deadLetterQueue,
    });
  }
}
