// Spans of this process, kept in memory for a test to inspect: the tracing set-up of production
// (W3C propagator, AsyncLocalStorage context) with an in-memory exporter instead of OTLP.
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { registerTracing } from '../runtime/tracing.js';

export interface SpanCollector {
  /** Every span ended so far, in the order they ended. */
  spans(): ReadableSpan[];
  /** Unregisters; the API is a no-op again. */
  stop(): Promise<void>;
}

export function collectSpans(serviceName = 'mes-test'): SpanCollector {
  const exporter = new InMemorySpanExporter();
  const tracing = registerTracing({ serviceName, spanProcessor: new SimpleSpanProcessor(exporter) });
  return {
    spans: () => exporter.getFinishedSpans(),
    stop: () => tracing.shutdown(),
  };
}
