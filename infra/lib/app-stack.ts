import { Annotations, App, CfnOutput, Stack, StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { AppConfig, readConfig } from './config';
import { EcsSingleTaskAutoscaling } from './ecs-single-task-autoscaling';
import { builtLambdaCode, builtLambdaZip, missingLambdaZips, unbuiltLambdaCode } from './lambda-code';
import { LAMBDA_NAMES, LambdaName } from './permissions';

export interface EcsSingleTaskAutoscalingStackProps extends StackProps {
  readonly config: AppConfig;
  /** Overrides the code of every function (tests). @default - per `config.lambdaAssets` */
  readonly lambdaCode?: (name: LambdaName) => lambda.Code;
}

/** The deployable unit: the construct for an existing cluster, service and Auto Scaling group(s). */
export class EcsSingleTaskAutoscalingStack extends Stack {
  public readonly autoscaling: EcsSingleTaskAutoscaling;

  constructor(scope: Construct, id: string, props: EcsSingleTaskAutoscalingStackProps) {
    super(scope, id, {
      description: 'Drains ECS container instances before Auto Scaling terminates them, and keeps services at N+1.',
      ...props,
    });
    const { config } = props;

    let lambdaCode = props.lambdaCode;
    if (!lambdaCode && config.lambdaAssets === 'auto') {
      const missing = new Set(missingLambdaZips(LAMBDA_NAMES));
      if (missing.size > 0) {
        Annotations.of(this).addWarningV2(
          'ecs-single-task-autoscaling:unbuilt-lambdas',
          `No Rust build for ${[...missing].join(', ')} (${builtLambdaZip([...missing][0])} is missing): ` +
            'using a stand-in that only fails. Fine for synth and tests; run make build before deploying.',
        );
      }
      lambdaCode = (name) => (missing.has(name) ? unbuiltLambdaCode() : builtLambdaCode(name));
    }

    const { logEncryptionKeyArn, network, permissionsBoundaryArn, ...constructProps } = config.construct;
    this.autoscaling = new EcsSingleTaskAutoscaling(this, 'EcsSingleTaskAutoscaling', {
      ...constructProps,
      logEncryptionKey: logEncryptionKeyArn
        ? kms.Key.fromKeyArn(this, 'LogEncryptionKey', logEncryptionKeyArn)
        : undefined,
      permissionsBoundary: permissionsBoundaryArn
        ? iam.ManagedPolicy.fromManagedPolicyArn(this, 'PermissionsBoundary', permissionsBoundaryArn)
        : undefined,
      ...(network ? this.importNetwork(network) : {}),
      // Also stack tags (buildApp): CloudFormation puts those on what it creates, these are in the template.
      tags: config.tags,
      lambdaCode,
    });
    if (config.alarmEmail) {
      this.autoscaling.alarmTopic.addSubscription(new subscriptions.EmailSubscription(config.alarmEmail));
    }

    new CfnOutput(this, 'StateMachineArn', { value: this.autoscaling.stateMachine.stateMachineArn });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.autoscaling.alarmTopic.topicArn });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.autoscaling.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'LifecycleHookName', { value: this.autoscaling.lifecycleHookName });
    if (this.autoscaling.dashboard) {
      new CfnOutput(this, 'DashboardName', { value: this.autoscaling.dashboard.dashboardName });
    }
  }

  /** The VPC, subnets and security groups of the config, by ID (nothing is looked up at synth time). */
  private importNetwork(network: NonNullable<AppConfig['construct']['network']>) {
    const { vpcId, subnetIds, securityGroupIds } = network;
    // The zones are placeholders: the functions take the subnets as given, and nothing else reads them.
    const vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
      vpcId,
      availabilityZones: subnetIds.map((_, i) => `zone-${i + 1}`),
      privateSubnetIds: subnetIds,
    });
    const securityGroups = securityGroupIds?.map((id, i) =>
      ec2.SecurityGroup.fromSecurityGroupId(this, `SecurityGroup${i + 1}`, id),
    );
    return { vpc, vpcSubnets: { subnets: vpc.privateSubnets }, securityGroups };
  }
}

/** Builds the app's stack from the context of `app`. */
export function buildApp(app: App, lambdaCode?: (name: LambdaName) => lambda.Code): EcsSingleTaskAutoscalingStack {
  const config = readConfig((key) => app.node.tryGetContext(key));
  return new EcsSingleTaskAutoscalingStack(app, config.stackName, {
    config,
    lambdaCode,
    tags: config.tags,
    // No env: the stack is environment-agnostic (ARNs use AWS::Region and AWS::AccountId), so it
    // synthesizes without credentials and deploys to the account and Region of the credentials in use.
  });
}
