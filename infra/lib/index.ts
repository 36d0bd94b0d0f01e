/** The package's entry point: the construct, its props, and the standalone template. */
export * from './ecs-single-task-autoscaling';
export { DrainWorkflow } from './drain-workflow';
export { Sweeper } from './sweeper';
export { TaskScaler } from './task-scaler';
export { LAMBDA_NAMES, PERMISSIONS, permissionsJson } from './permissions';
export type { LambdaName, Permission, ResourceScope } from './permissions';
export { SCALER_DECISIONS_QUERY } from './dashboard';
export { StandaloneTemplateStack, standaloneTemplate, STANDALONE_TEMPLATE_FILE } from './standalone';
export type { StandaloneOptions } from './standalone';
