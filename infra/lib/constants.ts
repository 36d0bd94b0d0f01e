/** Names and limits the construct, its tests and its users share. */

/** `detail-type` of the Auto Scaling event the drain starts from. */
export const TERMINATE_DETAIL_TYPE = 'EC2 Instance-terminate Lifecycle Action';
/** `detail-type` of the EC2 Spot two-minute warning. */
export const SPOT_WARNING_DETAIL_TYPE = 'EC2 Spot Instance Interruption Warning';

/** The namespace of the metrics the functions emit (CloudWatch Embedded Metric Format), dimension `Cluster`. */
export const METRICS_NAMESPACE = 'EcsSingleTaskAutoscaling';

/** Auto Scaling's limit on the whole lifecycle wait: min(48 h, 100 x heartbeat timeout). */
export const MAX_LIFECYCLE_WAIT_SECONDS = 48 * 3600;

/**
 * EventBridge Scheduler invokes its targets "with 60 second precision" ("Schedule types in
 * EventBridge Scheduler"): a sweep due at 1:00 comes up to 1:00:59.
 */
export const SCHEDULER_PRECISION_SECONDS = 60;

/**
 * The cdk-nag rules (of the HIPAA, NIST 800-53 and PCI DSS packs) that ask for a KMS key on
 * every log group. Acknowledged on each log group unless `logEncryptionKey` is given.
 */
export const LOG_GROUP_ENCRYPTION_RULES = [
  'HIPAA.Security-CloudWatchLogGroupEncrypted',
  'NIST.800.53.R4-CloudWatchLogGroupEncrypted',
  'NIST.800.53.R5-CloudWatchLogGroupEncrypted',
  'PCI.DSS.321-CloudWatchLogGroupEncrypted',
] as const;

/** Why the log groups have no customer managed key by default. */
export const LOG_GROUP_ENCRYPTION_REASON =
  'CloudWatch Logs encrypts every log group at rest with keys it manages. These logs hold operational metadata only ' +
  '(instance, task, load balancer and execution identifiers, lifecycle action tokens, drain decisions and metrics), ' +
  'no credentials and no application data, so a customer managed key would ' +
  'add a key policy to keep in step with the Logs service principal, and a monthly cost, for no gain in ' +
  'confidentiality. Pass logEncryptionKey (app context logKmsKeyArn) where a customer managed key is required.';

/** The tag key the `tagged` deregistration scope matches by default. */
export const DEFAULT_DEREGISTRATION_TAG_KEY = 'ecs-single-task-autoscaling:drain';
