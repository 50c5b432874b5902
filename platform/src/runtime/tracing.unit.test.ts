import { context, propagation, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/env.js';
import { registerTracing, startTracing } from './tracing.js';

/** What the API does when nothing is registered: no propagator fields, no recorded span, no context kept. */
function nothingRegistered(): boolean {
  const span = trace.getTracer('probe').startSpan('probe');
  span.end();
  const kept = context.with(trace.setSpan(context.active(), span), () => trace.getActiveSpan());
  return propagation.fields().length === 0 && !span.isRecording() && kept === undefined;
}

describe('tracing set-up', () => {
  it('registers nothing without an OTLP endpoint', () => {
    expect(nothingRegistered()).toBe(true);
    expect(startTracing(loadConfig({}), 'mes')).toBeUndefined();
    expect(startTracing(loadConfig({ OTEL_SERVICE_NAME: 'mes-p1' }), 'mes')).toBeUndefined();
    expect(startTracing(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_SDK_DISABLED: 'true' }), 'mes')).toBeUndefined();
    expect(nothingRegistered()).toBe(true);
  });

  it('registers the W3C trace context propagator alone, named by the service, and unregisters on shutdown', async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = registerTracing({ serviceName: 'workflow', spanProcessor: new SimpleSpanProcessor(exporter) });
    try {
      expect(propagation.fields()).toEqual(['traceparent', 'tracestate']);
      trace.getTracer('test').startSpan('recorded').end();
      expect(exporter.getFinishedSpans().map((s) => [s.name, s.resource.attributes['service.name']])).toEqual([['recorded', 'workflow']]);
    } finally {
      await tracing.shutdown();
    }
    expect(nothingRegistered()).toBe(true);
  });

  it('shares one registration between runtimes of one process, until the last stops', async () => {
    const exporter = new InMemorySpanExporter();
    const first = registerTracing({ serviceName: 'first', spanProcessor: new SimpleSpanProcessor(exporter) });
    const second = registerTracing({ serviceName: 'second', spanProcessor: new SimpleSpanProcessor(new InMemorySpanExporter()) });
    await first.shutdown();
    await first.shutdown();
    trace.getTracer('test').startSpan('after the first stopped').end();
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['after the first stopped']);
    await second.shutdown();
    expect(nothingRegistered()).toBe(true);
  });
});
