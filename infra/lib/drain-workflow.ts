import { Aws, Duration, Fn, Names, Tokenization } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { SPOT_WARNING_DETAIL_TYPE, TERMINATE_DETAIL_TYPE } from './constants';
import { acknowledge } from './nag';
import { FunctionDeps, rustFunction } from './rust-function';
import { Scopes } from './scopes';
import { Settings } from './settings';

/** The four functions the state machine invokes. */
export const DRAIN_FUNCTION_NAMES = ['drain-ecs', 'deregister-lb', 'check-drained', 'complete-lifecycle'] as const;
export type DrainFunctionName = (typeof DRAIN_FUNCTION_NAMES)[number];

export interface DrainWorkflowProps {
  readonly settings: Settings;
  readonly deps: FunctionDeps;
  readonly scopes: Scopes;
  /** The ASL, with `${Placeholder}`s. */
  readonly definition: string;
  readonly classicElbNames: string[];
  readonly targetGroupArns: string[];
  readonly deadLetterQueue: sqs.IQueue;
  readonly lifecycleHookName: string;
  readonly spotInterruptionHandling: boolean;
}

/**
 * The drain: its four functions, the state machine that runs them, and the EventBridge rules
 * that start it for a terminate lifecycle action of the managed groups (and a Spot warning).
 */
export class DrainWorkflow extends Construct {
  public readonly functions: Readonly<Record<DrainFunctionName, lambda.Function>>;
  public readonly stateMachine: sfn.StateMachine;
  public readonly terminateRule: events.Rule;
  public readonly spotInterruptionRule?: events.Rule;

  constructor(scope: Construct, id: string, props: DrainWorkflowProps) {
    super(scope, id);
    this.functions = this.createFunctions(props);
    this.stateMachine = this.createStateMachine(props);

    // A lifecycle action is only worth delivering while it is still open.
    const heartbeat = props.settings.heartbeatTimeoutSeconds;
    const targetProps: eventTargets.SfnStateMachineProps = {
      deadLetterQueue: props.deadLetterQueue,
      retryAttempts: 20,
      // A heartbeat timeout given as a parameter is at most 7200 s.
      maxEventAge: Duration.seconds(Number.isFinite(heartbeat) && heartbeat > 0 ? Math.max(60, heartbeat) : 7200),
    };
    this.terminateRule = new events.Rule(this, 'TerminateLifecycleActionRule', {
      description: 'Starts the drain for a terminate lifecycle action of the managed Auto Scaling groups.',
      eventPattern: {
        source: ['aws.autoscaling'],
        detailType: [TERMINATE_DETAIL_TYPE],
        detail: {
          AutoScalingGroupName: props.settings.autoScalingGroupNames,
          // Only our hook: another terminate hook on the same group is not ours to complete.
          LifecycleHookName: [props.lifecycleHookName],
        },
      },
      targets: [new eventTargets.SfnStateMachine(this.stateMachine, targetProps)],
    });
    if (props.spotInterruptionHandling) {
      this.spotInterruptionRule = new events.Rule(this, 'SpotInterruptionWarningRule', {
        description:
          'Starts the drain on a Spot interruption warning (the drain refuses instances outside the managed cluster).',
        eventPattern: { source: ['aws.ec2'], detailType: [SPOT_WARNING_DETAIL_TYPE] },
        targets: [new eventTargets.SfnStateMachine(this.stateMachine, targetProps)],
      });
    }
  }

  private createFunctions(props: DrainWorkflowProps): Record<DrainFunctionName, lambda.Function> {
    const { settings, deps, scopes } = props;
    // One cluster: the fallback for events whose hook metadata names none (and for Spot warnings).
    // Several: each hook's metadata names its cluster, and IAM holds the drain to the managed ones.
    const cluster: Record<string, string> =
      settings.clusters.length === 1 ? { ECS_CLUSTER: settings.clusters[0].clusterName } : {};
    const timeout = Duration.seconds(60);
    const make = (name: DrainFunctionName, id: string, description: string, environment: Record<string, string>) =>
      rustFunction(this, id, deps, { name, description, timeout, environment, scopes });
    return {
      'drain-ecs': make(
        'drain-ecs',
        'DrainEcs',
        'Validates the lifecycle event and sets the ECS container instance DRAINING.',
        {
          ...cluster,
          MANAGED_ASG_NAMES: Fn.join(',', settings.autoScalingGroupNames),
        },
      ),
      'deregister-lb': make(
        'deregister-lb',
        'DeregisterLb',
        'Deregisters the instance from every Classic ELB and target group it is in.',
        {
          ...cluster,
          ...(props.classicElbNames.length ? { CLASSIC_ELB_NAMES: Fn.join(',', props.classicElbNames) } : {}),
          ...(props.targetGroupArns.length ? { TARGET_GROUP_ARNS: Fn.join(',', props.targetGroupArns) } : {}),
        },
      ),
      'check-drained': make(
        'check-drained',
        'CheckDrained',
        'Checks whether tasks and load balancers have drained; heartbeats the lifecycle hook.',
        {},
      ),
      'complete-lifecycle': make(
        'complete-lifecycle',
        'CompleteLifecycle',
        'Completes the terminate lifecycle action.',
        {},
      ),
    };
  }

  private createStateMachine(props: DrainWorkflowProps): sfn.StateMachine {
    const { settings, deps } = props;
    const fns = this.functions;
    // The /aws/vendedlogs/ prefix keeps the Logs resource policy that Step Functions needs from
    // growing with every state machine. The stack's ID makes the name new for every stack, so a
    // log group kept from a failed or deleted stack never blocks the next one.
    const stackUuid = Fn.select(2, Fn.split('/', Aws.STACK_ID));
    const logGroup = deps.logGroup(
      this,
      'DrainStateMachineLogs',
      `/aws/vendedlogs/states/${Names.uniqueResourceName(this, { maxLength: 200, separator: '-' })}-${stackUuid}`,
    );
    const stateMachine = new sfn.StateMachine(this, 'DrainStateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromString(props.definition),
      definitionSubstitutions: {
        DrainEcsFunctionArn: fns['drain-ecs'].functionArn,
        DeregisterLbFunctionArn: fns['deregister-lb'].functionArn,
        CheckDrainedFunctionArn: fns['check-drained'].functionArn,
        CompleteLifecycleFunctionArn: fns['complete-lifecycle'].functionArn,
        DrainDeadlineSeconds: Tokenization.stringifyNumber(settings.drainDeadlineSeconds),
        DeadlineResult: settings.deadlineResult,
        StandaloneTasks: settings.standaloneTasks,
        StandaloneTaskGraceSeconds: Tokenization.stringifyNumber(settings.standaloneTaskGraceSeconds),
        NlbDeregistrationSeconds: Tokenization.stringifyNumber(settings.nlbDeregistrationSeconds),
      },
      // Every state transition is logged, but without the states' input and output: these
      // carry the lifecycle action token, which an operator sees once, in the execution's
      // own input and history, not in a log line per state.
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
      tracingEnabled: true,
    });
    // The definition invokes the unqualified function ARNs through lambda:invoke: exactly these four.
    stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: DRAIN_FUNCTION_NAMES.map((name) => fns[name].functionArn),
      }),
    );
    acknowledge(
      stateMachine.role,
      'AwsSolutions-IAM5[Resource::*]',
      'Only the actions Step Functions needs for its own logging and tracing have "*": the CloudWatch Logs ' +
        'log-delivery actions (logs:CreateLogDelivery, GetLogDelivery, UpdateLogDelivery, DeleteLogDelivery, ' +
        'ListLogDeliveries, PutResourcePolicy, DescribeResourcePolicies, DescribeLogGroups) and X-Ray ' +
        '(xray:PutTraceSegments, PutTelemetryRecords, GetSamplingRules, GetSamplingTargets) accept no narrower ' +
        'resource. lambda:InvokeFunction is limited to the four drain functions.',
    );
    return stateMachine;
  }
}
