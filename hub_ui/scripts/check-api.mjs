// Fails when src/api/schema.d.ts is not what openapi-typescript makes of openapi.json (the
// document Luna serves; a Rust test keeps that file equal to it). Fix with `npm run api`.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const fresh = join(mkdtempSync(join(tmpdir(), 'luna-hub-api-')), 'schema.d.ts');
execFileSync('node_modules/.bin/openapi-typescript', ['openapi.json', '-o', fresh], { stdio: 'ignore' });
if (readFileSync(fresh, 'utf8') !== readFileSync('src/api/schema.d.ts', 'utf8')) {
  console.error('hub_ui/src/api/schema.d.ts is out of date with hub_ui/openapi.json: run `npm run api` in hub_ui/');
  process.exit(1);
}
console.log('src/api/schema.d.ts matches openapi.json');
