/**
 * `npm run template [-- --groups N --services M --schedule-rate MIN --sweep-rate MIN --out FILE]` (`make template`): writes the standalone
 * CloudFormation template (no CDK needed to deploy it) to dist/ecs-single-task-autoscaling.template.json.
 */
import * as fs from 'fs';
import * as path from 'path';
import { STANDALONE_TEMPLATE_FILE, standaloneTemplate } from '../lib/standalone';

const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const count = (name: string): number | undefined => {
  const v = option(name);
  if (v !== undefined && !/^[1-9][0-9]?$/.test(v)) {
    console.error(`error: --${name} must be a whole number from 1 to 99, got ${v}`);
    process.exit(2);
  }
  return v === undefined ? undefined : Number(v);
};
const out = path.resolve(__dirname, '..', option('out') ?? STANDALONE_TEMPLATE_FILE);
const template = standaloneTemplate({
  groups: count('groups'),
  services: count('services'),
  scheduleRateMinutes: count('schedule-rate'),
  sweepRateMinutes: count('sweep-rate'),
});
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, `${JSON.stringify(template, null, 2)}\n`);
console.log(
  `${path.relative(process.cwd(), out)}: ${Object.keys(template.Parameters as object).length} parameters, ${Object.keys(template.Resources as object).length} resources`,
);
