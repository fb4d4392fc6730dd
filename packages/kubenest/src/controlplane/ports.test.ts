import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { ephemeralPortStart, freePort, freePorts, portIsFree } from './ports.ts';

describe('freePort', () => {
  it('picks bindable loopback ports below the kernel\'s ephemeral range, where outgoing connections never take them', async () => {
    const ports = await freePorts(20);
    assert.equal(new Set(ports).size, 20);
    for (const port of ports) {
      assert.ok(port >= 10_000 && port < ephemeralPortStart(), `${port} is below ${ephemeralPortStart()}`);
      assert.equal(await portIsFree(port), true);
    }
  });

  it('portIsFree, which every pick goes through, says no while something listens and yes after', async () => {
    const port = await freePort();
    const server = createServer();
    await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port }, resolve));
    assert.equal(await portIsFree(port), false);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    assert.equal(await portIsFree(port), true);
  });
});
