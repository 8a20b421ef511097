// openapi-json.mjs: docs/openapi.yaml (hand-written) as docs/openapi.json,
// the form the server embeds and answers at GET /v1/openapi.json.
//   node docs/openapi-json.mjs          writes docs/openapi.json (`make openapi`)
//   node docs/openapi-json.mjs --check  exits 1 when docs/openapi.json is stale
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const here = dirname(fileURLToPath(import.meta.url));
const yamlPath = join(here, 'openapi.yaml');
const jsonPath = join(here, 'openapi.json');

// YAML anchors and merge keys (<<) keep the headers every answer carries in
// one place; JSON spells them out.
export function openapiFromYaml(text = readFileSync(yamlPath, 'utf8')) {
  return parse(text, { merge: true, maxAliasCount: -1 });
}

export function openapiJsonText(doc = openapiFromYaml()) {
  return `${JSON.stringify(doc, null, 2)}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const want = openapiJsonText();
  if (process.argv[2] === '--check') {
    let have = '';
    try { have = readFileSync(jsonPath, 'utf8'); } catch { /* missing */ }
    if (have !== want) {
      console.error('docs/openapi.json is stale: run `make openapi` and commit it');
      process.exit(1);
    }
  } else {
    writeFileSync(jsonPath, want);
  }
}
