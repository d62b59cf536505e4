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
