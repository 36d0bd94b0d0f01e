/** The standalone template's parameters and conditions (`standalone.ts`). */
import { CfnCondition, CfnParameter, Fn, ICfnConditionExpression, Stack } from 'aws-cdk-lib';

/** Numbered parameters: the plain values, the values with an unused slot standing for the first, the conditions of slots 2 on. */
export interface Slots {
  readonly refs: string[];
  readonly values: string[];
  readonly conditions: CfnCondition[];
}

export interface TextOptions {
  readonly default?: string;
  readonly allowedPattern?: string;
  readonly allowedValues?: string[];
}

/** The template's parameters and conditions, and their grouping in the console. */
export class Parameters {
  private readonly order: string[] = [];

  constructor(private readonly stack: Stack) {}

  public text(name: string, description: string, options: TextOptions = {}): string {
    this.order.push(name);
    return new CfnParameter(this.stack, name, { type: 'String', description, ...options }).valueAsString;
  }

  public number(
    name: string,
    description: string,
    options: { default?: number; minValue?: number; maxValue?: number },
  ): number {
    this.order.push(name);
    return new CfnParameter(this.stack, name, { type: 'Number', description, ...options }).valueAsNumber;
  }

  public list(name: string, description: string): string[] {
    this.order.push(name);
    return new CfnParameter(this.stack, name, { type: 'CommaDelimitedList', description, default: '' }).valueAsList;
  }

  public condition(name: string, expression: ICfnConditionExpression): CfnCondition {
    return new CfnCondition(this.stack, name, { expression });
  }

  /**
   * `<name>1` (required) to `<name><count>` (empty: unused). An unused slot stands for the first
   * one, so every list the construct builds from them stays valid; what only exists per slot (a
   * hook, a schedule) carries the slot's condition.
   */
  public slots(name: string, count: number, description: string): Slots {
    const first = this.text(`${name}1`, `${description}.`);
    const refs = [first];
    const values = [first];
    const conditions: CfnCondition[] = [];
    for (let i = 2; i <= count; i++) {
      const v = this.text(`${name}${i}`, `${description} (empty: none).`, { default: '' });
      const has = this.condition(`Has${name}${i}`, Fn.conditionNot(Fn.conditionEquals(v, '')));
      conditions.push(has);
      refs.push(v);
      values.push(Fn.conditionIf(has.logicalId, v, first).toString());
    }
    return { refs, values, conditions };
  }

  /** The console shows the parameters in the order they were made. */
  public groups(): void {
    this.stack.templateOptions.metadata = {
      'AWS::CloudFormation::Interface': {
        ParameterGroups: [{ Label: { default: 'ecs-single-task-autoscaling' }, Parameters: this.order }],
      },
    };
  }
}
