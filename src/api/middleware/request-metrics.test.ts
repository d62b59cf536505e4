import { Hono } from 'hono';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createHttpMetrics } from '../../metrics/metrics.ts';
import { requestMetrics } from './request-metrics.ts';

describe('requestMetrics', () => {
  it('labels a request by its route pattern and status, not its path', async () => {
    const registry = new Registry();
    const app = new Hono().use('*', requestMetrics(createHttpMetrics(registry))).get('/orders/:id', (c) => c.text('ok', 200));
    await app.request('/orders/123');
    await app.request('/orders/456');
    const text = await registry.metrics();
    expect(text).toContain('http_request_duration_seconds_count{method="GET",route="/orders/:id",status="200"} 2');
    expect(text).not.toContain('/orders/123');
  });
});

describe('routeLabel', () => {
  it('labels a route behind catch-all middlewares by itself, and a request no route matched "unmatched"', async () => {
    const registry = new Registry();
    const app = new Hono()
      .use('*', requestMetrics(createHttpMetrics(registry)))
      .get('/metrics', (c) => c.text('metrics'))
      .use('*', async (_c, next) => next());
    await app.request('/metrics');
    await app.request('/nope/42');
    const text = await registry.metrics();
    expect(text).toContain('http_request_duration_seconds_count{method="GET",route="/metrics",status="200"} 1');
    expect(text).toContain('http_request_duration_seconds_count{method="GET",route="unmatched",status="404"} 1');
    expect(text).not.toContain('route="/*"');
  });
});
