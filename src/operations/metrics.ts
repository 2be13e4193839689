import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Database } from '../db/database.js';

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * The figures `GET /metrics` serves in Prometheus' text format: requests by method, route
 * pattern and status, their latency, the process's own figures and, on PostgreSQL, the
 * connection pool. Labels take route patterns, never raw paths, so their number stays bounded
 * whatever URLs clients send (an unknown URL is `unmatched`).
 */
export function createMetrics(database: Database) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const labelNames = ['method', 'route', 'status'] as const;
  const requests = new Counter({ name: 'http_requests_total', help: 'HTTP requests answered.', labelNames, registers: [registry] });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from the request to the end of its reply.',
    labelNames,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const { poolStats } = database;
  if (poolStats !== undefined) {
    new Gauge({
      name: 'db_pool_connections',
      help: 'Database connections of this process: open in all, idle, and requests waiting for one.',
      labelNames: ['state'],
      registers: [registry],
      collect() {
        const stats = poolStats();
        this.set({ state: 'total' }, stats.total);
        this.set({ state: 'idle' }, stats.idle);
        this.set({ state: 'waiting' }, stats.waiting);
      },
    });
  }
  return {
    contentType: registry.contentType,
    observe(method: string, route: string | undefined, status: number, seconds: number): void {
      const labels = { method, route: route ?? 'unmatched', status: String(status) };
      requests.inc(labels);
      duration.observe(labels, seconds);
    },
    text: () => registry.metrics(),
  };
}
