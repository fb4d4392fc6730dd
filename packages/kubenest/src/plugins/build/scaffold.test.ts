import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { pluginProjectEntry, scaffoldFiles } from './scaffold.ts';

describe('scaffoldFiles', () => {
  it('writes a project named after the plugin: entry, launcher, plugin.yaml loading it, a test', () => {
    const files = scaffoldFiles('my-plugin');
    assert.deepEqual(Object.keys(files).sort(), ['.gitignore', 'README.md', 'package.json', 'plugin', 'plugin.test.ts', 'plugin.ts', 'plugin.yaml', 'tsconfig.json']);
    const pkg = JSON.parse(files['package.json']!) as { name: string; main: string; type: string };
    assert.deepEqual([pkg.name, pkg.main, pkg.type], ['my-plugin', 'plugin.ts', 'module']);
    assert.deepEqual(parse(files['plugin.yaml']!), { plugins: { 'my-plugin': { path: '.' } } });
    assert.match(files['plugin']!, /^#!\/bin\/sh\n/);
    assert.match(files['plugin']!, /exec "\$\{KUBENEST_NODE:-node\}" "\$here\/plugin.ts"/);
    assert.match(files['plugin.ts']!, /'my-plugin\/touched': 'yes'/);
    assert.match(files['plugin.test.ts']!, /startPluginEnvironment\(\{ plugin: import\.meta\.dirname \}\)/);
  });
  it('refuses a name that is not a DNS label', () => {
    for (const bad of ['My_Plugin', '-x', 'a'.repeat(64), '']) assert.throws(() => scaffoldFiles(bad), /is not a valid plugin name/);
  });
});

describe('pluginProjectEntry', () => {
  it('takes the first plugin of plugin.yaml with its entry, else the directory name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kn-project-'));
    try {
      const project = join(dir, 'thing');
      mkdirSync(project);
      assert.deepEqual(pluginProjectEntry(project), { name: 'thing', entry: {} });
      writeFileSync(join(project, 'plugin.yaml'), 'plugins:\n  other:\n    path: .\n    config:\n      a: 1\n');
      assert.deepEqual(pluginProjectEntry(project), { name: 'other', entry: { path: '.', config: { a: 1 } } });
      writeFileSync(join(project, 'plugin.yaml'), 'plugins: [\n');
      assert.throws(() => pluginProjectEntry(project), /plugin.yaml: not valid YAML/);
      assert.equal(readFileSync(join(project, 'plugin.yaml'), 'utf8'), 'plugins: [\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
