import { ManagedCluster, ScaledService } from './props';

/**
 * Typed reads of the app's parameters, collecting every problem instead of stopping at the
 * first. Values come from `-c key=value` (always strings) or a JSON file (any JSON type).
 */
export class ConfigReader<K extends string> {
  public readonly errors: string[] = [];

  constructor(
    private readonly get: (key: K) => unknown,
    private readonly help: Readonly<Record<K, string>>,
  ) {}

  public raw(key: K): unknown {
    return this.get(key);
  }

  public str(key: K): string | undefined {
    const v = this.get(key);
    return v === undefined || v === '' ? undefined : textOf(v);
  }

  public required(key: K): string {
    const v = this.str(key);
    if (v === undefined) {
      this.errors.push(`${key} is required (${this.help[key]})`);
      return '';
    }
    return v;
  }

  public int(key: K): number | undefined {
    return this.intOf(key, this.str(key));
  }

  public bool(key: K): boolean | undefined {
    const v = this.str(key);
    if (v === undefined) {
      return undefined;
    }
    if (v !== 'true' && v !== 'false') {
      this.errors.push(`${key} must be true or false, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return v === 'true';
  }

  public oneOf(key: K, values: string[]): string | undefined {
    const v = this.str(key);
    if (v !== undefined && !values.includes(v)) {
      this.errors.push(
        `${key} must be ${values.slice(0, -1).join(', ')} or ${values[values.length - 1]}, got ${JSON.stringify(v)}`,
      );
      return undefined;
    }
    return v;
  }

  /** A comma-separated string or a JSON array (in the file, or as a `-c` string starting with `[`). */
  public list(key: K): string[] | undefined {
    const v = this.get(key);
    if (v === undefined || v === '') {
      return undefined;
    }
    if (Array.isArray(v)) {
      return v.map(String);
    }
    const s = textOf(v).trim();
    if (s.startsWith('[')) {
      const parsed = this.json(key);
      return Array.isArray(parsed) ? parsed.map(String) : undefined;
    }
    return s
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x !== '');
  }

  /** A JSON value: as it is in the file, or parsed from a `-c` string. */
  public json(key: K): unknown {
    const v = this.get(key);
    if (typeof v !== 'string') {
      return v;
    }
    if (v.trim() === '') {
      return undefined;
    }
    try {
      return JSON.parse(v);
    } catch {
      this.errors.push(`${key} is not valid JSON: ${v}`);
      return undefined;
    }
  }

  /** A JSON object of strings (tags). */
  public stringMap(key: K): Record<string, string> | undefined {
    const v = this.json(key);
    if (v === undefined) {
      return undefined;
    }
    if (!isObject(v) || Object.values(v).some((x) => typeof x !== 'string')) {
      this.errors.push(`${key} must be a JSON object of strings, e.g. {"team": "platform"}`);
      return undefined;
    }
    return v as Record<string, string>;
  }

  /** `[{clusterName, autoScalingGroupNames, services}]`. */
  public clusters(key: K, v: unknown): ManagedCluster[] {
    if (!Array.isArray(v) || v.length === 0) {
      this.errors.push(`${key} must be a non-empty JSON array of {clusterName, autoScalingGroupNames, services}`);
      return [];
    }
    return v.map((c, i): ManagedCluster => {
      const at = `${key}[${i}]`;
      if (!this.fields(at, c, ['clusterName', 'autoScalingGroupNames', 'services'])) {
        return { clusterName: '', autoScalingGroupNames: [] };
      }
      const groups = c.autoScalingGroupNames;
      if (!Array.isArray(groups) || groups.length === 0 || groups.some((g) => typeof g !== 'string' || g === '')) {
        this.errors.push(`${at}.autoScalingGroupNames must be a non-empty array of group names`);
      }
      return {
        clusterName: this.text(`${at}.clusterName`, c.clusterName) ?? '',
        autoScalingGroupNames: Array.isArray(groups) ? groups.map(String) : [],
        services: c.services === undefined ? [] : this.services(`${at}.services`, c.services),
      };
    });
  }

  /** `[{serviceName, minTaskCount, maxTaskCount?, nCount?, autoScalingGroupName?}]`. */
  public services(at: string, v: unknown): ScaledService[] {
    if (!Array.isArray(v)) {
      this.errors.push(
        `${at} must be a JSON array of {serviceName, minTaskCount, maxTaskCount?, nCount?, autoScalingGroupName?}`,
      );
      return [];
    }
    return v.map((s, i): ScaledService => {
      const where = `${at}[${i}]`;
      if (!this.fields(where, s, ['serviceName', 'minTaskCount', 'maxTaskCount', 'nCount', 'autoScalingGroupName'])) {
        return { serviceName: '', minTaskCount: 0 };
      }
      const minTaskCount = this.intOf(`${where}.minTaskCount`, s.minTaskCount);
      if (minTaskCount === undefined) {
        this.errors.push(`${where}.minTaskCount is required`);
      }
      return {
        serviceName: this.text(`${where}.serviceName`, s.serviceName) ?? '',
        minTaskCount: minTaskCount ?? 0,
        maxTaskCount: this.intOf(`${where}.maxTaskCount`, s.maxTaskCount),
        nCount: this.intOf(`${where}.nCount`, s.nCount),
        autoScalingGroupName: s.autoScalingGroupName === undefined ? undefined : textOf(s.autoScalingGroupName),
      };
    });
  }

  /** An object with only the known fields; says which are not. */
  private fields(at: string, v: unknown, known: string[]): v is Record<string, unknown> {
    if (!isObject(v)) {
      this.errors.push(`${at} must be a JSON object`);
      return false;
    }
    for (const key of Object.keys(v).filter((k) => !known.includes(k))) {
      this.errors.push(`${at}: unknown field ${key}; known: ${known.join(', ')}`);
    }
    return true;
  }

  private text(at: string, v: unknown): string | undefined {
    if (typeof v !== 'string' || v.trim() === '') {
      this.errors.push(`${at} is required (a non-empty string)`);
      return undefined;
    }
    return v;
  }

  private intOf(what: string, v: unknown): number | undefined {
    if (v === undefined || v === '') {
      return undefined;
    }
    if (!/^\d+$/.test(textOf(v))) {
      this.errors.push(`${what} must be a non-negative integer, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return Number(v);
  }
}

/**
 * A parameter as text: `-c` gives strings, a JSON file may also give numbers and booleans; an
 * object or an array where one value is expected is shown as its JSON.
 */
export function textOf(v: unknown): string {
  if (typeof v === 'string') {
    return v;
  }
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') {
    return String(v);
  }
  return JSON.stringify(v) ?? typeof v; // undefined, a function or a symbol: no JSON
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
