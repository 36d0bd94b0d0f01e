import * as fs from 'fs';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp, EcsSingleTaskAutoscalingStack } from '../lib/app-stack';
import { EcsSingleTaskAutoscaling, EcsSingleTaskAutoscalingProps } from '../lib/ecs-single-task-autoscaling';
import { unbuiltLambdaCode } from '../lib/lambda-code';
import { parseJson, props, resourcesOfType } from './cfn';

export const EXAMPLE_CONFIG = path.resolve(__dirname, '..', 'examples', 'example.json');
export const EXAMPLE = parseJson(fs.readFileSync(EXAMPLE_CONFIG, 'utf8'));

export const BASE_PROPS: EcsSingleTaskAutoscalingProps = {
  clusterName: 'test-cluster',
  serviceName: 'web',
  autoScalingGroupNames: ['test-cluster-asg'],
  minTaskCount: 2,
};

/** The construct alone in a stack, with the stand-in Lambda code (no Rust build). */
export function constructTemplate(overrides: Partial<EcsSingleTaskAutoscalingProps> = {}): {
  stack: Stack;
  construct: EcsSingleTaskAutoscaling;
  template: Template;
} {
  const app = new App();
  const stack = new Stack(app, 'Test');
  const construct = new EcsSingleTaskAutoscaling(stack, 'Sta', {
    ...BASE_PROPS,
    lambdaCode: () => unbuiltLambdaCode(),
    ...overrides,
  });
  return { stack, construct, template: Template.fromStack(stack) };
}

/** The example app (as `npm run synth` builds it), with the stand-in Lambda code. */
export function exampleApp(
  context: Record<string, unknown> = {},
  outdir?: string,
): { app: App; stack: EcsSingleTaskAutoscalingStack } {
  const app = new App({ context: { configFile: EXAMPLE_CONFIG, ...context }, outdir });
  const stack = buildApp(app, () => unbuiltLambdaCode());
  return { app, stack };
}

/** The one resource of a type whose logical ID starts with `prefix`, and its Properties. */
export function resourceById(
  template: Template,
  type: string,
  prefix: string,
): { id: string; props: Record<string, unknown> } {
  const found = Object.entries(resourcesOfType(template, type)).filter(([id]) => id.startsWith(prefix));
  if (found.length !== 1) {
    throw new Error(
      `expected one ${type} with ID prefix ${prefix}, found ${found.map(([id]) => id).join(', ') || 'none'}`,
    );
  }
  return { id: found[0][0], props: props(found[0][1]) };
}

/**
 * A value outside a prop's type, as a JavaScript caller or a hand-written configuration could
 * pass it: for the tests of the construct's own validation.
 */
export function outsideType<T>(value: string): T {
  return value as unknown as T;
}

/** The placeholders `${Name}` of an ASL text. */
export function placeholdersOf(asl: string): string[] {
  return [...new Set([...asl.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1]))].sort();
}
