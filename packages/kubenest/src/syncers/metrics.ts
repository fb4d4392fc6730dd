import { createServer, type Server } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

/** What a running syncer reports: counts since its term started. */
export interface SyncerReport {
  readonly name: string;
  readonly stats: Readonly<Record<string, number>>;
}

/**
 * The syncer's metrics endpoint (one per virtual cluster, on loopback): the process's own
 * figures, each running syncer's counts, and whatever other registries are handed in (the plugin
 * host's hook calls, refusals and latency). The counts are read when scraped, so a sync costs no
 * metric bookkeeping per object.
 */
export class SyncerMetrics {
  readonly registry = new Registry();
  private readonly others: Registry[];
  private server: Server | undefined;
  url: string | undefined;

  constructor(o: { syncers: () => readonly SyncerReport[]; leading: () => boolean; others?: Registry[] }) {
    this.others = o.others ?? [];
    collectDefaultMetrics({ register: this.registry, prefix: 'kubenest_syncer_' });
    const syncers = o.syncers;
    new Counter({
      name: 'kubenest_syncer_operations_total', help: 'What each syncer did in this leadership term: reconciles, created, updated, deleted, conflicts, errors',
      labelNames: ['syncer', 'operation'], registers: [this.registry],
      collect() {
        this.reset();
        for (const syncer of syncers()) {
          for (const [operation, count] of Object.entries(syncer.stats)) this.inc({ syncer: syncer.name, operation }, count);
        }
      },
    });
    const leading = o.leading;
    new Gauge({
      name: 'kubenest_syncer_leading', help: '1 while this replica leads (its syncers run), else 0', registers: [this.registry],
      collect() {
        this.set(leading() ? 1 : 0);
      },
    });
  }

  async text(): Promise<{ contentType: string; body: string }> {
    const merged = this.others.length ? Registry.merge([this.registry, ...this.others]) : this.registry;
    return { contentType: this.registry.contentType, body: await merged.metrics() };
  }

  /** Serves `/metrics` on 127.0.0.1 at a free port; returns its URL. */
  async serve(): Promise<string> {
    const server = createServer((request, response) => {
      if (request.url !== '/metrics') {
        response.writeHead(404).end('not found; try /metrics\n');
        return;
      }
      this.text().then(({ contentType, body }) => response.writeHead(200, { 'content-type': contentType }).end(body),
        (error: unknown) => response.writeHead(500).end(`${(error as Error).message}\n`));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    const address = server.address();
    this.url = address && typeof address !== 'string' ? `http://127.0.0.1:${address.port}/metrics` : undefined;
    return this.url!;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
