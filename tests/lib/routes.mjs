// routes.mjs: the route table as the binary prints it (`tollgate routes`):
// [{method, pattern, access, permission, scope, body, kdf}], the one source
// tests read routes from.
import { spawnSync } from 'node:child_process';
import { BIN } from './stack.mjs';

let cached = null;

export function routeTable() {
  if (cached) return cached;
  const r = spawnSync(BIN, ['routes'], { encoding: 'utf8', timeout: 10000 });
  if (r.status !== 0) throw new Error(`${BIN} routes: exit ${r.status}: ${r.stderr}`);
  cached = JSON.parse(r.stdout);
  return cached;
}
