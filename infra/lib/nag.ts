import { CfnResource, Validations } from 'aws-cdk-lib';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference';
import { IConstruct } from 'constructs';

/**
 * Acknowledges a cdk-nag finding on a construct, for both major versions of cdk-nag:
 * cdk-nag 3 reads CDK's acknowledged-rules metadata (`Validations.of(c).acknowledge`) on the
 * resource or any of its scopes; cdk-nag 2 reads the `cdk_nag` metadata of each resource, where
 * a granular finding (`AwsSolutions-IAM5[Resource::*]`) is the rule ID with `applies_to`. Like
 * cdk-nag 2's `applyToChildren`, that metadata goes on every resource the construct holds so far
 * (a role and its default policy).
 */
export function acknowledge(construct: IConstruct, id: string, reason: string): void {
  Validations.of(construct).acknowledge({ id, reason });
  const granular = /^([^[]+)\[(.+)\]$/.exec(id);
  const entry = granular ? { id: granular[1], reason, applies_to: [granular[2]] } : { id, reason };
  for (const resource of construct.node.findAll().filter(CfnResource.isCfnResource)) {
    const metadata = resource.getMetadata('cdk_nag') as { rules_to_suppress?: unknown[] } | undefined;
    const existing = metadata?.rules_to_suppress ?? [];
    resource.addMetadata('cdk_nag', { rules_to_suppress: [...existing, entry] });
  }
}

/**
 * A resolved CloudFormation value as cdk-nag prints it in a finding ID (`Fn::Join` joined,
 * `Ref` as `<Name>`, `Fn::GetAtt` as `<Name.Attr>`), so that a wildcard can be acknowledged by
 * its exact finding: cdk-nag 3 matches acknowledged IDs exactly (no `appliesTo` regex), so the
 * ID is made by cdk-nag's own function, the one its IAM rules name their findings with.
 */
export function flattenForNag(value: unknown): string {
  return flattenCfnReference(value);
}
