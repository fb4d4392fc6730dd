import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Counter, Registry } from 'prom-client';
import { SyncerMetrics } from './metrics.ts';

describe('SyncerMetrics', () => {
  it('serves the syncers\' counts as they are when scraped, the leading flag, process figures and other registries', async () => {
    const stats = { reconciles: 3, created: 2, errors: 0 };
    let leading = false;
    const plugins = new Registry();
    new Counter({ name: 'kubenest_plugin_hook_calls_total', help: 'h', labelNames: ['plugin'], registers: [plugins] }).inc({ plugin: 'p' }, 5);
    const metrics = new SyncerMetrics({ syncers: () => [{ name: 'configmaps', stats }], leading: () => leading, others: [plugins] });
    const url = await metrics.serve();
    try {
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      let text = await (await fetch(url)).text();
      assert.match(text, /kubenest_syncer_operations_total\{syncer="configmaps",operation="created"\} 2/);
      assert.match(text, /kubenest_syncer_leading 0/);
      assert.match(text, /kubenest_syncer_process_resident_memory_bytes \d+/);
      assert.match(text, /kubenest_plugin_hook_calls_total\{plugin="p"\} 5/);
      stats.created = 7;
      leading = true;
      text = await (await fetch(url)).text();
      assert.match(text, /kubenest_syncer_operations_total\{syncer="configmaps",operation="created"\} 7/);
      assert.match(text, /kubenest_syncer_leading 1/);
      assert.equal((await fetch(url.replace('/metrics', '/other'))).status, 404);
    } finally {
      await metrics.stop();
    }
  });
});
