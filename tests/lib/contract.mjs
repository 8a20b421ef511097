// contract.mjs: holds an answer of the API to docs/openapi.json, the
// contract. api() (stack.mjs) calls assertContract on every answer, so a
// handler that drifts from the document (a renamed field, an undocumented
// status or errorCode, a missing header) fails the test that saw it.
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const TOP = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DOC_FILE = join(TOP, 'docs', 'openapi.json');
export const doc = JSON.parse(readFileSync(DOC_FILE, 'utf8'));

// The document's schemas under one $id, so each response schema compiles on
// its own: "#/components/schemas/X" becomes "tollgate#/$defs/X".
const SCHEMAS = 'tollgate';
const relink = (v) => JSON.parse(JSON.stringify(v).replaceAll('"#/components/schemas/', `"${SCHEMAS}#/$defs/`));
// Strict (unknown keywords are mistakes), but an allOf may narrow a schema
// without repeating its "type" or "properties".
const ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false, strictRequired: false });
addFormats(ajv);
ajv.addSchema({ $id: SCHEMAS, $defs: relink(doc.components.schemas) });

export const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

// The object a local "$ref" (a JSON pointer into the document) names.
function deref(v) {
  while (v && typeof v.$ref === 'string') {
    v = v.$ref.slice(2).split('/')
      .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'))
      .reduce((o, k) => o?.[k], doc);
  }
  return v;
}

// Path templates, literal ones first ("{id}" is one id segment, as in router.c).
const templates = Object.keys(doc.paths)
  .map((t) => ({
    template: t,
    re: new RegExp(`^${t.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[A-Za-z0-9_-]{1,64}')}$`),
    params: (t.match(/\{/g) || []).length,
  }))
  .sort((a, b) => a.params - b.params);

// The document's path template for a request path (query dropped), or null.
export function pathTemplate(path) {
  const p = path.split('?')[0];
  return templates.find((t) => t.re.test(p))?.template ?? null;
}

const validators = new Map();
function validator(key, schema) {
  if (!validators.has(key)) validators.set(key, ajv.compile(relink(schema)));
  return validators.get(key);
}

const headerGet = (headers, name) => (typeof headers?.get === 'function' ? headers.get(name) : headers?.[name.toLowerCase()] ?? null);

// What any path can answer outside its operations: the router's 404 and
// 405, nginx's 400 (a request it cannot parse), 413 and 503, the rate
// limiter's 429.
const PATH_ANSWERS = { 400: 'BadRequest', 404: 'NotFound', 405: 'MethodNotAllowed', 413: 'PayloadTooLarge', 429: 'RateLimited', 503: 'Unavailable' };

// The documented response for this request and status: {where, response}
// or {problem}.
function documented(method, path, status) {
  const m = method.toLowerCase();
  const template = pathTemplate(path);
  const op = template ? doc.paths[template][m] : undefined;
  if (op) {
    const response = op.responses[String(status)];
    if (!response) {
      return { problem: `${method} ${template} answered ${status}, which the document does not list (it lists ${Object.keys(op.responses).join(', ')})` };
    }
    return { where: `${method} ${template} ${status}`, response: deref(response) };
  }
  const where = template ? `${method} ${template} (no such operation)` : `${method} ${path.split('?')[0]} (no such path)`;
  const name = PATH_ANSWERS[status];
  if (!name || (status === 405 && !template) || (status === 404 && template)) {
    return { problem: `${where} answered ${status}; expected ${template ? 405 : 404}` };
  }
  return { where: `${where} ${status}`, response: deref(doc.components.responses[name]) };
}

// The ways an answer differs from the document, as sentences ([] when it
// conforms). res is {status, headers (Headers or a lower-case object), text}.
export function contractProblems(method, path, res) {
  if (!path.startsWith('/v1/')) return []; // the web app's files, not the API
  const found = documented(method, path, res.status);
  if (found.problem) return [found.problem];
  const { where, response } = found;
  const problems = [];

  for (const [name, h] of Object.entries(response.headers || {})) {
    const header = deref(h);
    const value = headerGet(res.headers, name);
    if (value === null) {
      if (header.required) problems.push(`${where}: header ${name} is missing`);
      continue;
    }
    const v = header.schema?.type === 'integer' && /^-?[0-9]+$/.test(value) ? Number(value) : value;
    const check = validator(`header ${name}`, header.schema || {});
    if (!check(v)) problems.push(`${where}: header ${name}: ${JSON.stringify(value)} ${ajv.errorsText(check.errors, { dataVar: name })}`);
  }

  const text = res.text ?? '';
  const type = headerGet(res.headers, 'content-type') || '';
  // A documented answer in another media type than JSON (the records as
  // text/csv): the Content-Type names it, and the body is text.
  const other = Object.keys(response.content || {}).find((m) => m !== 'application/json' &&
    type.toLowerCase().split(';')[0].trim() === m);
  if (other) {
    if (response.content[other].schema?.type !== 'string') problems.push(`${where}: ${other} is documented without a string schema`);
    return problems;
  }
  const media = response.content?.['application/json'];
  if (!media) {
    if (text !== '') problems.push(`${where}: the document says no body, the answer has ${text.length} bytes`);
    return problems;
  }
  if (!/^application\/json\s*(;|$)/i.test(type)) problems.push(`${where}: Content-Type is ${JSON.stringify(type)}, not application/json`);
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    problems.push(`${where}: the body is not JSON: ${text.slice(0, 200)}`);
    return problems;
  }
  const check = validator(where, media.schema);
  if (!check(body)) {
    for (const e of check.errors) {
      const extra = e.params?.additionalProperty ?? e.params?.missingProperty ?? e.params?.unevaluatedProperty;
      problems.push(`${where}: body${e.instancePath} ${e.message}${extra !== undefined ? ` (${extra})` : ''}`);
    }
  }
  if (body && typeof body.errorCode === 'string' && body.requestId !== headerGet(res.headers, 'x-request-id')) {
    problems.push(`${where}: requestId ${JSON.stringify(body.requestId)} is not the X-Request-Id header`);
  }
  return problems;
}

// Throws when the answer does not conform, naming every difference.
export function assertContract(method, path, res) {
  const problems = contractProblems(method, path, res);
  if (problems.length > 0) {
    const err = new Error(`answer off the contract (docs/openapi.yaml):\n  ${problems.join('\n  ')}\nbody: ${(res.text ?? '').slice(0, 600)}`);
    err.problems = problems;
    throw err;
  }
}
