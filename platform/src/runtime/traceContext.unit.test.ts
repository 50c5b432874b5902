import type { TraceContextFields } from '@mes/contracts';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { collectSpans, type SpanCollector } from '../testing/spanCollector.js';
import { activeTraceContext, allWithActiveTraceContext, inSpan, traceContextFrom, withActiveTraceContext } from './traceContext.js';

type Message = TraceContextFields & { commandId: string };

const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/;

describe('trace context with tracing off (nothing registered)', () => {
  it('runs the work and writes no context into messages', async () => {
    const message: Message = { commandId: 'c-1' };
    const messages = [message];
    const seen = await inSpan('work', { kind: 'consumer', parent: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' } }, async () => ({
      active: activeTraceContext(),
      one: withActiveTraceContext(message),
      all: allWithActiveTraceContext(messages),
    }));
    expect(seen.active).toBeUndefined();
    expect(seen.one).toBe(message);
    expect(seen.all).toBe(messages);
  });

  it('builds no span attributes', async () => {
    let built = 0;
    await inSpan('work', { attributes: () => ({ built: ++built }) }, async () => undefined);
    expect(built).toBe(0);
  });
});

describe('trace context with spans collected', () => {
  let collector: SpanCollector;
  let seen: number;
  beforeAll(() => {
    collector = collectSpans();
  });
  afterAll(async () => {
    await collector.stop();
  });
  beforeEach(() => {
    seen = collector.spans().length;
  });
  const newSpans = () => collector.spans().slice(seen);
  const spanNamed = (name: string) => {
    const span = newSpans().find((s) => s.name === name);
    if (span === undefined) throw new Error(`no span ${name} among ${newSpans().map((s) => s.name).join(', ')}`);
    return span;
  };

  it('writes the active span into a message, and its handling continues that trace', async () => {
    const sent = await inSpan('send', {}, async () => withActiveTraceContext<Message>({ commandId: 'c-1' }));
    expect(sent.traceparent).toMatch(TRACEPARENT);
    await inSpan('handle', { kind: 'consumer', root: true, parent: sent }, async () => undefined);
    const send = spanNamed('send');
    const handle = spanNamed('handle');
    expect(handle.spanContext().traceId).toBe(send.spanContext().traceId);
    expect(handle.parentSpanContext?.spanId).toBe(send.spanContext().spanId);
    expect(handle.kind).toBe(SpanKind.CONSUMER);
    expect(sent.traceparent).toBe(`00-${send.spanContext().traceId}-${send.spanContext().spanId}-01`);
  });

  it('keeps the context a message carries already, and stamps the others', async () => {
    const earlier = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const [kept, stamped] = await inSpan('append', {}, async () => allWithActiveTraceContext([{ traceparent: earlier }, { traceparent: undefined }]));
    expect(kept?.traceparent).toBe(earlier);
    expect(stamped?.traceparent).toMatch(TRACEPARENT);
    expect(stamped?.traceparent).not.toBe(earlier);
  });

  it.each([
    ['not a traceparent', 'garbage'],
    ['an all-zero trace id', '00-00000000000000000000000000000000-00f067aa0ba902b7-01'],
    ['upper-case hex', '00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01'],
    ['a missing field', '00-4bf92f3577b34da6a3ce929d0e0e4736-01'],
  ])('ignores %s in a message: the handling starts a trace of its own and runs', async (_what, traceparent) => {
    const result = await inSpan('handle malformed', { kind: 'consumer', root: true, parent: { traceparent, tracestate: '=,=' } }, async () => 'handled');
    expect(result).toBe('handled');
    const span = spanNamed('handle malformed');
    expect(span.parentSpanContext).toBeUndefined();
    expect(span.spanContext().traceId).not.toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(span.spanContext().traceId).toMatch(/^(?!0{32})[0-9a-f]{32}$/);
  });

  it('starts a new trace for a root span even inside another span', async () => {
    await inSpan('outer', {}, () => inSpan('inner root', { root: true }, async () => undefined));
    expect(spanNamed('inner root').parentSpanContext).toBeUndefined();
    expect(spanNamed('inner root').spanContext().traceId).not.toBe(spanNamed('outer').spanContext().traceId);
  });

  it('makes a span a child of the active one without root', async () => {
    await inSpan('parent', {}, () => inSpan('child', { kind: 'client', attributes: () => ({ 'mes.approval_id': 'AP_1' }) }, async () => undefined));
    expect(spanNamed('child').parentSpanContext?.spanId).toBe(spanNamed('parent').spanContext().spanId);
    expect(spanNamed('child').attributes).toMatchObject({ 'mes.approval_id': 'AP_1' });
  });

  it('marks a span whose work failed, and passes the error on', async () => {
    await expect(inSpan('failing', {}, async () => Promise.reject(new Error('mail server down')))).rejects.toThrow('mail server down');
    const span = spanNamed('failing');
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'mail server down' });
    expect(span.events.map((e) => e.name)).toContain('exception');
  });
});

describe('traceContextFrom', () => {
  it('reads traceparent and tracestate from MQTT 5 user properties or headers', () => {
    expect(traceContextFrom({ traceparent: 'tp', tracestate: 'ts', other: 'x' })).toEqual({ traceparent: 'tp', tracestate: 'ts' });
    expect(traceContextFrom({ traceparent: ['first', 'second'] })).toEqual({ traceparent: 'first' });
  });

  it('finds nothing without a traceparent', () => {
    expect(traceContextFrom(undefined)).toBeUndefined();
    expect(traceContextFrom({ tracestate: 'ts' })).toBeUndefined();
  });
});
