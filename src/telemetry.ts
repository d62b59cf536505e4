// Turns real tracing on from OpenTelemetry's standard environment, so an operator needs nothing of
// ours to learn: OTEL_TRACES_EXPORTER (otlp, console or none; several comma-separated), then the
// SDK's own variables: OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (and
// _HEADERS), OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER and _ARG.
// Off by default (unlike the spec's default of otlp): the service must run without a collector.
// These variables are read here and by the SDK rather than in src/config.ts because they are the
// SDK's contract, documented by OpenTelemetry, not ours. The SDK is imported only when tracing is on.
import { buildInfo } from './metrics/build-info.ts';

export type TracesExporter = 'otlp' | 'console';

export interface Tracing {
  exporters: TracesExporter[];
  // Exports the spans not yet exported.
  flush(): Promise<void>;
  // Flushes, then stops; call it last when stopping.
  shutdown(): Promise<void>;
}

type Env = Record<string, string | undefined>;

// The exporters OTEL_TRACES_EXPORTER asks for; a value we do not know stops the start, naming it.
export function tracesExporters(env: Env): TracesExporter[] {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return [];
  const names = (env.OTEL_TRACES_EXPORTER ?? 'none')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const unknown = names.filter((n) => !['otlp', 'console', 'none'].includes(n));
  if (unknown.length > 0) throw new Error(`OTEL_TRACES_EXPORTER: "${unknown.join(', ')}" is not one of otlp, console, none`);
  return names.includes('none') ? [] : [...new Set(names as TracesExporter[])];
}

// Registers the global tracer provider (with the W3C propagator and the async-hooks context) when
// an exporter is asked for; src/tracing.ts then makes real spans. `role` names the process's roles.
export async function startTracing(role: string, env: Env = process.env): Promise<Tracing | undefined> {
  const exporters = tracesExporters(env);
  if (exporters.length === 0) return undefined;
  const [{ NodeTracerProvider, BatchSpanProcessor, SimpleSpanProcessor, ConsoleSpanExporter }, { detectResources, envDetector, resourceFromAttributes }] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/resources'),
  ]);
  const processors = await Promise.all(
    exporters.map(async (name) => {
      if (name === 'console') return new SimpleSpanProcessor(new ConsoleSpanExporter());
      const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
      return new BatchSpanProcessor(new OTLPTraceExporter()); // endpoint and headers from the OTEL_EXPORTER_OTLP_* variables
    }),
  );
  const info = buildInfo();
  // Ours first, then the environment's (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES), which win.
  const resource = resourceFromAttributes({ 'service.name': 'pizza-outbox', 'service.version': info.version, 'pizza_outbox.role': role }).merge(
    detectResources({ detectors: [envDetector] }),
  );
  const provider = new NodeTracerProvider({ resource, spanProcessors: processors });
  provider.register();
  return { exporters, flush: () => provider.forceFlush(), shutdown: () => provider.shutdown() };
}
