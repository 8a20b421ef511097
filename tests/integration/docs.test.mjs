// docs.test.mjs: the documentation a user gets is in the repository. Every
// relative link of README.md and docs/*.md names a file that exists (and a
// heading that exists, for a link to a section), and no file of the
// repository refers to the development contract outside it (../shared).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { TOP } from '../lib/stack.mjs';

const docs = ['README.md', ...readdirSync(join(TOP, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

// GitHub's anchor of a heading: lower case, punctuation dropped, spaces to dashes.
function slug(heading) {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-');
}

// The anchors of a Markdown file: its headings (duplicates numbered as GitHub does).
function anchors(text) {
  const seen = new Map();
  const out = new Set();
  for (const line of text.replace(/^```[\s\S]*?^```$/gm, '').split('\n')) {
    const m = line.match(/^#{1,6} (.*)$/);
    if (!m) continue;
    const s = slug(m[1]);
    const n = seen.get(s) || 0;
    seen.set(s, n + 1);
    out.add(n === 0 ? s : `${s}-${n}`);
  }
  return out;
}

// Every link target of a Markdown text, code blocks and inline code aside:
// [text](target), ![alt](target) and <a href="target">.
function links(text) {
  const prose = text.replace(/^```[\s\S]*?^```$/gm, '').replace(/`[^`\n]*`/g, '');
  const out = [];
  for (const m of prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) out.push(m[1]);
  for (const m of prose.matchAll(/<a\s[^>]*href="([^"]+)"/g)) out.push(m[1]);
  return out;
}

test('the link checker finds links and resolves anchors as GitHub does', () => {
  assert.deepEqual(links('see [a](docs/x.md#y), ![i](s.png) and `[no](code.md)`\n```\n[no](block.md)\n```\n'),
    ['docs/x.md#y', 's.png']);
  assert.equal(slug('Client addresses and trusted proxies'), 'client-addresses-and-trusted-proxies');
  assert.equal(slug('A tour of `src/`, in reading order'), 'a-tour-of-src-in-reading-order');
  assert.equal(slug("An integrator's path"), 'an-integrators-path');
});

for (const file of docs) {
  test(`every relative link of ${file} names a file (and heading) that exists`, () => {
    const text = readFileSync(join(TOP, file), 'utf8');
    const dead = [];
    for (const target of links(text)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
      const [path, anchor] = target.split('#');
      const abs = path === '' ? join(TOP, file) : resolve(TOP, dirname(file), path);
      if (!abs.startsWith(TOP + '/') || !existsSync(abs)) {
        dead.push(`${target} (no file ${relative(TOP, abs)})`);
        continue;
      }
      if (anchor !== undefined && abs.endsWith('.md') && !anchors(readFileSync(abs, 'utf8')).has(anchor))
        dead.push(`${target} (no heading #${anchor} in ${relative(TOP, abs)})`);
    }
    assert.deepEqual(dead, [], `dead links in ${file}`);
  });
}

test('the docs cover what the README promises', () => {
  for (const f of ['api-guide', 'deploying', 'operating', 'performance', 'reliability', 'security', 'internals', 'webapp'])
    assert.ok(existsSync(join(TOP, 'docs', `${f}.md`)), `docs/${f}.md`);
});

test('no file of the repository refers to ../shared or its API.md', () => {
  const files = execFileSync('git', ['ls-files', '-z'], { cwd: TOP, encoding: 'utf8' })
    .split('\0').filter((f) => f && !f.startsWith('node_modules/') && f !== 'tests/integration/docs.test.mjs');
  const bad = [];
  const pattern = new RegExp(['\\.\\./shared', '\\bshared/API', '\\bAPI\\.md\\b'].join('|'));
  for (const f of files) {
    if (!existsSync(join(TOP, f))) continue;
    const text = readFileSync(join(TOP, f));
    if (text.includes(0)) continue; // binary
    const lines = text.toString('utf8').split('\n');
    lines.forEach((l, i) => { if (pattern.test(l)) bad.push(`${f}:${i + 1}: ${l.trim()}`); });
  }
  assert.deepEqual(bad, []);
});

test('the synopsis in the README and docs/operating.md names every command src/main.c dispatches', () => {
  const main = readFileSync(join(TOP, 'src', 'main.c'), 'utf8');
  const commands = [...main.matchAll(/strcmp\(argv\[i\], "([a-z-]+)"\) == 0/g)].map((m) => m[1]).filter((c) => !c.startsWith("-"));
  assert.ok(commands.includes('backup') && commands.includes('help'), commands.join(' '));
  for (const file of ['README.md', 'docs/operating.md']) {
    const text = readFileSync(join(TOP, file), 'utf8');
    const synopsis = text.match(/^```\n(tollgate [\s\S]*?)^```$/m);
    assert.ok(synopsis, `${file} has a synopsis block`);
    for (const c of commands)
      assert.match(synopsis[1], new RegExp(`^tollgate (\\[--config FILE\\] )?${c}\\b`, 'm'), `${file} lists ${c}`);
  }
});
