import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadValues, mergeValues, readValues } from './values.ts';

const dir = mkdtempSync(join(tmpdir(), 'kn-values-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('mergeValues (Helm semantics)', () => {
  it('merges maps deeply, replaces lists and scalars, and deletes keys set to null', () => {
    const base = { sync: { toHost: { pods: { enabled: true }, secrets: { enabled: true, all: false } } }, list: [1, 2], keep: 'x', drop: 'y' };
    const override = { sync: { toHost: { secrets: { all: true } } }, list: [3], drop: null, added: { a: 1 } };
    assert.deepEqual(mergeValues(base, override), {
      sync: { toHost: { pods: { enabled: true }, secrets: { enabled: true, all: true } } }, list: [3], keep: 'x', added: { a: 1 },
    });
    assert.deepEqual(base.list, [1, 2], 'inputs are not changed');
  });

  it('lets a map replace a scalar and the other way round', () => {
    assert.deepEqual(mergeValues({ a: 'x' }, { a: { b: 1 } }), { a: { b: 1 } });
    assert.deepEqual(mergeValues({ a: { b: 1 } }, { a: 'x' }), { a: 'x' });
  });
});

describe('reading values files', () => {
  it('reads files and URLs in order, later ones winning', async () => {
    writeFileSync(join(dir, 'a.yaml'), 'sync:\n  toHost:\n    configMaps:\n      all: false\n    pods:\n      enabled: true\n');
    const server = createServer((_req, res) => res.end('sync:\n  toHost:\n    configMaps:\n      all: true\n'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/values.yaml`;
      const { merged, sources } = await loadValues([join(dir, 'a.yaml'), url]);
      assert.deepEqual(sources.map((s) => s.name), [join(dir, 'a.yaml'), url]);
      assert.deepEqual(merged, { sync: { toHost: { configMaps: { all: true }, pods: { enabled: true } } } });
    } finally {
      server.close();
    }
  });

  it('names the file and line of a YAML error, and refuses a non-map', async () => {
    writeFileSync(join(dir, 'bad.yaml'), 'sync:\n  toHost: [\n');
    await assert.rejects(readValues(join(dir, 'bad.yaml')), /bad\.yaml:\d+:\d+: not valid YAML/);
    writeFileSync(join(dir, 'list.yaml'), '- a\n- b\n');
    await assert.rejects(readValues(join(dir, 'list.yaml')), /list\.yaml: a values file must be a YAML map at the top level \(found a list\)/);
    await assert.rejects(readValues(join(dir, 'missing.yaml')), /missing\.yaml: cannot read the values file \(ENOENT\)/);
    writeFileSync(join(dir, 'empty.yaml'), '');
    assert.deepEqual((await readValues(join(dir, 'empty.yaml'))).values, {});
  });
});
