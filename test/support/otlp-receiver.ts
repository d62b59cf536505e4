// A tiny OTLP/HTTP trace receiver (JSON, as @opentelemetry/exporter-trace-otlp-http sends it) on
// loopback: what a collector would get, for tests to read.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OtlpSpan {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attributes: Array<{ key: string; value: { stringValue?: string; intValue?: string | number } }>;
  // The process's resource attributes (service.name, pizza_outbox.role, ...), added by the receiver.
  resource: Record<string, string | undefined>;
}

interface OtlpRequest {
  resourceSpans: Array<{ resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> }; scopeSpans: Array<{ spans: Array<Omit<OtlpSpan, 'resource'>> }> }>;
}

export interface OtlpReceiver {
  url: string;
  requests: Array<{ path: string; contentType: string | undefined }>;
  spans(): OtlpSpan[];
  close(): Promise<void>;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const requests: OtlpReceiver['requests'] = [];
  const spans: OtlpSpan[] = [];
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk) => (text += chunk));
    req.on('end', () => {
      requests.push({ path: req.url ?? '', contentType: req.headers['content-type'] });
      for (const rs of (JSON.parse(text) as OtlpRequest).resourceSpans) {
        const resource = Object.fromEntries(rs.resource.attributes.map((a) => [a.key, a.value.stringValue]));
        for (const scope of rs.scopeSpans) for (const span of scope.spans) spans.push({ ...span, resource });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    spans: () => spans,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export const attribute = (span: OtlpSpan, key: string) => {
  const v = span.attributes.find((a) => a.key === key)?.value;
  return v?.stringValue ?? (v?.intValue !== undefined ? Number(v.intValue) : undefined);
};
