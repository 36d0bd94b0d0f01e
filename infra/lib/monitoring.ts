import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE } from './constants';
import { createDashboard, CustomMetric } from './dashboard';
import { acknowledge } from './nag';
import { Sweeper } from './sweeper';

export interface MonitoringProps {
  readonly alarmTopic?: sns.ITopic;
  readonly stateMachine: sfn.StateMachine;
  readonly deadLetterQueue: sqs.IQueue;
  readonly taskScaler: lambda.Function;
  readonly sweepers: Sweeper[];
  readonly clusterNames: string[];
  /** Every function, labelled, for the dashboard. */
  readonly functions: { label: string; fn: lambda.Function }[];
  readonly sweepRateMinutes: number;
  readonly dashboard: boolean;
}

/** The alarms (to an SNS topic) and the dashboard. */
export class Monitoring extends Construct {
  public readonly alarmTopic: sns.ITopic;
  public readonly alarms: cloudwatch.Alarm[];
  public readonly dashboard?: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    this.alarmTopic = props.alarmTopic ?? this.createTopic();
    const period = Duration.minutes(5);
    // The functions' own metrics (Embedded Metric Format), one series per cluster.
    const customMetric: CustomMetric = (cluster, metricName, statistic, metricPeriod, label) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { Cluster: cluster },
        statistic,
        period: metricPeriod,
        label,
      });
    const sm = props.stateMachine;
    this.alarms = [
      this.alarm(
        'DrainFailedAlarm',
        'A drain execution failed: the instance was not released by the drain (Auto Scaling applies the hook default result at the heartbeat timeout). Inspect the execution and redrive it.',
        sm.metricFailed({ period, statistic: cloudwatch.Stats.SUM }),
      ),
      this.alarm(
        'DrainTimedOutAlarm',
        'A drain execution timed out.',
        sm.metricTimedOut({ period, statistic: cloudwatch.Stats.SUM }),
      ),
      this.alarm(
        'DeadLetterQueueAlarm',
        'An event could not be delivered (a lifecycle action that started no drain, or a task scaler or sweeper run). See the dead-letter queue.',
        props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(1),
          statistic: cloudwatch.Stats.MAXIMUM,
        }),
      ),
      this.alarm(
        'TaskScalerErrorsAlarm',
        "The task scaler has failed on every run for 5 minutes: a service's desired count is not being kept at N+1.",
        props.taskScaler.metricErrors({ period: Duration.minutes(1), statistic: cloudwatch.Stats.SUM }),
        5,
      ),
      ...props.sweepers.flatMap((sweeper, i) => {
        const suffix = i === 0 ? '' : String(i + 1);
        return [
          this.alarm(
            `SweeperStartedDrainAlarm${suffix}`,
            'The sweeper started a drain for an instance that was waiting on the terminate hook without one: a lifecycle ' +
              'event was lost or not delivered (or, within seconds of a scale-in, ListExecutions did not list the drain the event had ' +
              'just started yet: a second, harmless drain). The drain is running now; check the rule (FailedInvocations) and the dead-letter queue.',
            customMetric(sweeper.clusterName, 'SweeperExecutionsStarted', cloudwatch.Stats.SUM, period),
          ),
          this.alarm(
            `SweeperErrorsAlarm${suffix}`,
            'The sweeper has failed on its last 3 runs: instances whose lifecycle event was lost are not being drained.',
            sweeper.function.metricErrors({
              period: Duration.minutes(props.sweepRateMinutes),
              statistic: cloudwatch.Stats.SUM,
            }),
            3,
          ),
        ];
      }),
    ];
    if (props.dashboard) {
      this.dashboard = createDashboard(this, 'Dashboard', {
        stateMachine: sm,
        alarms: this.alarms,
        clusterNames: props.clusterNames,
        functions: props.functions,
        scalerLogGroup: props.taskScaler.logGroup,
        customMetric,
        period,
      });
    }
  }

  private createTopic(): sns.Topic {
    const topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'ECS single-task autoscaling alarms',
      enforceSSL: true,
    });
    acknowledge(
      topic,
      'AwsSolutions-SNS2',
      'The topic carries only CloudWatch alarm state changes (alarm name, metric, threshold), no application ' +
        'data. CloudWatch cannot publish to a topic encrypted with the AWS managed key aws/sns, so encryption ' +
        'would need a customer managed key and key policy for no confidentiality gain. Pass alarmTopic to use ' +
        'an encrypted topic of your own.',
    );
    return topic;
  }

  private alarm(id: string, description: string, metric: cloudwatch.IMetric, evaluationPeriods = 1): cloudwatch.Alarm {
    const a = new cloudwatch.Alarm(this, id, {
      alarmDescription: description,
      metric,
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    a.addAlarmAction(new cwActions.SnsAction(this.alarmTopic));
    return a;
  }
}
