import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PluginBuildError, parseLdd, pluginEntry } from './index.ts';

describe('parseLdd', () => {
  it('takes the mapped libraries and the loader, skipping the vdso', () => {
    const out = [
      '\tlinux-vdso.so.1 (0x00007ffd5b1f2000)',
      '\tlibstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f0e4f000000)',
      '\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0e4ee1e000)',
      '\t/lib64/ld-linux-x86-64.so.2 (0x00007f0e4f3c0000)',
    ].join('\n');
    assert.deepEqual(parseLdd(out), { loader: '/lib64/ld-linux-x86-64.so.2', libraries: ['/lib/x86_64-linux-gnu/libstdc++.so.6', '/lib/x86_64-linux-gnu/libc.so.6'] });
  });
  it('refuses a missing library and a binary without a glibc loader', () => {
    assert.throws(() => parseLdd('\tlibfoo.so.1 => not found\n\t/lib64/ld-linux-x86-64.so.2 (0x1)'), /libfoo.so.1 not found/);
    assert.throws(() => parseLdd('\tnot a dynamic executable'), PluginBuildError);
  });
});

describe('pluginEntry', () => {
  it('prefers package.json main (a .ts file), else plugin.ts, else says what is missing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kn-entry-'));
    try {
      assert.throws(() => pluginEntry(dir), /neither package.json's "main" \(a .ts file\) nor plugin.ts exists/);
      writeFileSync(join(dir, 'plugin.ts'), '');
      assert.equal(pluginEntry(dir), join(dir, 'plugin.ts'));
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ main: 'src/main.ts' }));
      assert.throws(() => pluginEntry(dir), /"main" names src\/main.ts, which does not exist/);
      writeFileSync(join(dir, 'main.ts'), '');
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ main: 'main.ts' }));
      assert.equal(pluginEntry(dir), join(dir, 'main.ts'));
      writeFileSync(join(dir, 'package.json'), '{ nope');
      assert.throws(() => pluginEntry(dir), /package.json: not valid JSON/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
