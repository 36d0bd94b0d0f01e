/**
 * Prints the actions each Lambda is allowed, from lib/permissions.ts, as JSON:
 * `{ "<function>": ["service:Action", ...] }` (sorted). Run it with
 * `npm run permissions --silent` so that stdout is only the JSON.
 */
import { permissionsJson } from '../lib/permissions';

process.stdout.write(`${JSON.stringify(permissionsJson(), null, 2)}\n`);
