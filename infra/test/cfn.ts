/**
 * How the tests read CloudFormation templates: CDK's assertions API (Template.toJSON,
 * findResources) and the cloud assembly give the template as `any`; here it is checked once
 * into the types below, and anything deeper is `unknown`, read through the narrowing helpers
 * (`obj`, `arr`, `str`, `strs`, `dig`), which throw, naming what they expected, when the
 * template is not of the shape the test reads. They double as assertions.
 */
import { Template } from 'aws-cdk-lib/assertions';

/** One resource of a template. */
export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  Condition?: string;
  DependsOn?: string | string[];
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
  Metadata?: Record<string, unknown>;
}

/** A template's sections; `unknown` below them. */
export interface CfnTemplate {
  AWSTemplateFormatVersion?: string;
  Description?: string;
  Transform?: unknown;
  Metadata?: Record<string, unknown>;
  Parameters?: Record<string, Record<string, unknown>>;
  Mappings?: Record<string, unknown>;
  Conditions?: Record<string, unknown>;
  Rules?: Record<string, unknown>;
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, Record<string, unknown>>;
}

/** An IAM policy statement (resources, principals and conditions left `unknown`). */
export interface PolicyStatement {
  Sid?: string;
  Effect: string;
  Action?: string | string[];
  NotAction?: unknown;
  Resource?: unknown;
  NotResource?: unknown;
  Principal?: unknown;
  NotPrincipal?: unknown;
  Condition?: unknown;
}

// ---- narrowing helpers -----------------------------------------------------------------------

/** A short rendering of a value for an error message. */
function shown(value: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value); // undefined (whatever its type says) for undefined and functions
  } catch {
    json = undefined; // a cycle
  }
  if (json === undefined) {
    return String(value);
  }
  return json.length > 200 ? `${json.slice(0, 200)}...` : json;
}

function expected(what: string, shape: string, value: unknown): Error {
  return new Error(`expected ${what} to be ${shape}, got ${shown(value)}`);
}

/** A JSON object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `value` as a JSON object; throws if it is not one. */
export function obj(value: unknown, what = 'the value'): Record<string, unknown> {
  if (!isRecord(value)) {
    throw expected(what, 'an object', value);
  }
  return value;
}

/** `value` as an array; throws if it is not one. */
export function arr(value: unknown, what = 'the value'): unknown[] {
  if (!Array.isArray(value)) {
    throw expected(what, 'an array', value);
  }
  return value;
}

/** `value` as a string; throws if it is not one. */
export function str(value: unknown, what = 'the value'): string {
  if (typeof value !== 'string') {
    throw expected(what, 'a string', value);
  }
  return value;
}

/** `value` as an array of strings; throws if it is not one. */
export function strs(value: unknown, what = 'the value'): string[] {
  const a = arr(value, what);
  if (!a.every((x): x is string => typeof x === 'string')) {
    throw expected(what, 'an array of strings', value);
  }
  return a;
}

/** `value` if it is not undefined; throws otherwise. */
export function defined<T>(value: T | undefined, what = 'the value'): T {
  if (value === undefined) {
    throw new Error(`expected ${what} to be present`);
  }
  return value;
}

type Key = string | number;

function step(value: unknown, key: Key, path: Key[]): unknown {
  const where = `${path.length === 0 ? 'the value' : path.join('.')} (to read ${String(key)})`;
  return typeof key === 'number' ? arr(value, where)[key] : obj(value, where)[key];
}

/**
 * `value[k1][k2]...` as plain property access reads it: every step but the last must be an
 * object (string key) or an array (number key), or this throws naming the path; the last
 * may be missing (undefined).
 */
export function dig(value: unknown, ...path: Key[]): unknown {
  let current = value;
  path.forEach((key, i) => {
    current = step(current, key, path.slice(0, i));
  });
  return current;
}

/** `value?.[k1]?.[k2]...`: like `dig`, but undefined (or null) on the way gives undefined. */
export function digOptional(value: unknown, ...path: Key[]): unknown {
  let current = value;
  for (const [i, key] of path.entries()) {
    if (current === undefined || current === null) {
      return undefined;
    }
    current = step(current, key, path.slice(0, i));
  }
  return current;
}

/** Parses JSON text into `unknown`, to be narrowed by the reader. */
export function parseJson(text: string): unknown {
  return JSON.parse(text) as unknown;
}

/** The message of a thrown value (an Error of any realm), else the value as a string. */
export function errorMessage(e: unknown): string {
  return typeof e === 'object' && e !== null && 'message' in e ? String(e.message) : String(e);
}

// ---- templates ---------------------------------------------------------------------------------

function optional(value: unknown, check: (v: unknown, what: string) => unknown, what: string): void {
  if (value !== undefined) {
    check(value, what);
  }
}

function assertResource(value: unknown, id: string): asserts value is CfnResource {
  const r = obj(value, `resource ${id}`);
  str(r.Type, `${id}.Type`);
  optional(r.Properties, obj, `${id}.Properties`);
  optional(r.Condition, str, `${id}.Condition`);
  optional(r.DependsOn, (v, what) => (typeof v === 'string' ? v : strs(v, what)), `${id}.DependsOn`);
  optional(r.DeletionPolicy, str, `${id}.DeletionPolicy`);
  optional(r.UpdateReplacePolicy, str, `${id}.UpdateReplacePolicy`);
  optional(r.Metadata, obj, `${id}.Metadata`);
}

function assertRecordOf(value: unknown, what: string, each: (v: unknown, key: string) => void): void {
  for (const [key, v] of Object.entries(obj(value, what))) {
    each(v, key);
  }
}

function assertResources(value: unknown, what: string): asserts value is Record<string, CfnResource> {
  assertRecordOf(value, what, (r, id) => assertResource(r, id));
}

function assertTemplate(value: unknown): asserts value is CfnTemplate {
  const t = obj(value, 'the template');
  assertResources(t.Resources, 'Resources');
  for (const section of ['Parameters', 'Outputs']) {
    optional(t[section], (v) => assertRecordOf(v, section, (p, name) => obj(p, `${section}.${name}`)), section);
  }
  for (const section of ['Metadata', 'Mappings', 'Conditions', 'Rules']) {
    optional(t[section], obj, section);
  }
  optional(t.AWSTemplateFormatVersion, str, 'AWSTemplateFormatVersion');
  optional(t.Description, str, 'Description');
}

/** A template's JSON (`Template.toJSON`, the cloud assembly's, a file's), checked to be a template. */
export function cfnTemplate(json: unknown): CfnTemplate {
  assertTemplate(json);
  return json;
}

/** The resources of one type (`Template.findResources`), by logical ID, typed. */
export function resourcesOfType(template: Template, type: string): Record<string, CfnResource> {
  const found: unknown = template.findResources(type);
  assertResources(found, `the ${type} resources`);
  return found;
}

/** A resource's Properties; throws if it has none. */
export function props(resource: CfnResource): Record<string, unknown> {
  return obj(resource.Properties, `the Properties of a ${resource.Type}`);
}

/** The properties of every resource of a type, by logical ID, in template order. */
export function propertiesOfType(template: Template, type: string): [string, Record<string, unknown>][] {
  return Object.entries(resourcesOfType(template, type)).map(([id, r]) => [id, props(r)]);
}

// ---- IAM -------------------------------------------------------------------------------------

function assertStatement(value: unknown, what: string): asserts value is PolicyStatement {
  const s = obj(value, what);
  str(s.Effect, `${what}.Effect`);
  optional(s.Action, (v, w) => (typeof v === 'string' ? v : strs(v, w)), `${what}.Action`);
  optional(s.Sid, str, `${what}.Sid`);
}

function assertStatements(value: unknown, what: string): asserts value is PolicyStatement[] {
  arr(value, what).forEach((s, i) => assertStatement(s, `${what}[${i}]`));
}

/** A policy document's `Statement` array, each statement checked to be one. */
export function policyStatements(value: unknown, what = 'Statement'): PolicyStatement[] {
  assertStatements(value, what);
  return value;
}

/** The statements of a role's first inline policy (`Policies[0]`), from its Properties. */
export function inlineStatements(roleProps: Record<string, unknown>): PolicyStatement[] {
  return policyStatements(dig(roleProps, 'Policies', 0, 'PolicyDocument', 'Statement'));
}

/** The actions of a statement as an array (`Action` may be one string). */
export function actionList(s: PolicyStatement): string[] {
  return s.Action === undefined ? [] : ([] as string[]).concat(s.Action);
}
