// One incident, one trace: the W3C trace context travels inside the events and commands themselves
// (their `traceparent` and `tracestate`), and every handler runs in a span whose parent is the
// context of the message it handles. Only the OpenTelemetry API is used here; whether spans are
// recorded and exported is decided once at start-up (tracing.ts). With nothing registered every
// call below is the API's no-op: no span is recorded and no context is written into a message.
import type { TraceContextFields } from '@mes/contracts';
import { context, isSpanContextValid, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';

/** The instrumentation scope of every span this project makes. */
export const TRACER_NAME = '@mes/platform';

export type TraceSpanKind = 'internal' | 'server' | 'client' | 'producer' | 'consumer';

const SPAN_KINDS: Readonly<Record<TraceSpanKind, SpanKind>> = {
  internal: SpanKind.INTERNAL,
  server: SpanKind.SERVER,
  client: SpanKind.CLIENT,
  producer: SpanKind.PRODUCER,
  consumer: SpanKind.CONSUMER,
};

export interface InSpanOptions {
  /** Default `internal`. */
  kind?: TraceSpanKind;
  /**
   * Start a trace of its own rather than a child of the span active here: for work that starts
   * from a message (which names its parent in `parent`, if anywhere) or from the outside world.
   */
  root?: boolean;
  /**
   * The context to continue, as a message carries it. Absent, or not a valid traceparent (a
   * malformed one is ignored, never an error): the span's parent is the active span, or none with `root`.
   */
  parent?: TraceContextFields;
  /** Called only when the span is recorded, so nothing is built for attributes while tracing is off. */
  attributes?: () => Attributes;
}

/**
 * Runs `work` inside a new span: everything it writes (events, commands) carries that span's
 * context. The span ends when `work` settles, marked as an error if it throws.
 */
export async function inSpan<T>(name: string, options: InSpanOptions, work: (span: Span) => Promise<T>): Promise<T> {
  const base = options.root === true ? ROOT_CONTEXT : context.active();
  const parentContext = options.parent === undefined ? base : propagation.extract(base, options.parent);
  const span = trace.getTracer(TRACER_NAME).startSpan(name, { kind: SPAN_KINDS[options.kind ?? 'internal'] }, parentContext);
  if (options.attributes !== undefined && span.isRecording()) span.setAttributes(options.attributes());
  try {
    return await context.with(trace.setSpan(parentContext, span), () => work(span));
  } catch (err) {
    if (span.isRecording()) {
      span.recordException(err instanceof Error ? err : String(err));
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
    }
    throw err;
  } finally {
    span.end();
  }
}

/**
 * The active span's context as a message carries it, or undefined when no span is active (always
 * the case with tracing off: then nothing is serialized). A span that is not sampled is carried too,
 * so the services after it keep the sampling decision.
 */
export function activeTraceContext(): TraceContextFields | undefined {
  const span = trace.getActiveSpan();
  if (span === undefined || !isSpanContextValid(span.spanContext())) return undefined;
  const carrier: TraceContextFields = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent === undefined ? undefined : carrier;
}

/**
 * `message` with the active span's context, unless it carries a context already (an event written
 * again after a crash keeps the one it was first written with). The same object when no span is active.
 */
export function withActiveTraceContext<M extends TraceContextFields>(message: M): M {
  if (message.traceparent !== undefined) return message;
  const carried = activeTraceContext();
  return carried === undefined ? message : { ...message, ...carried };
}

/** `withActiveTraceContext` for each message; the same array when no span is active. */
export function allWithActiveTraceContext<M extends TraceContextFields>(messages: readonly M[]): readonly M[] {
  const carried = activeTraceContext();
  if (carried === undefined) return messages;
  return messages.map((message) => (message.traceparent === undefined ? { ...message, ...carried } : message));
}

/**
 * The trace context in a string map that is not one of ours: MQTT 5 user properties, HTTP headers
 * (keys in lower case). Undefined when it holds no traceparent; a repeated key counts by its first value.
 */
export function traceContextFrom(properties: Readonly<Record<string, string | string[] | undefined>> | undefined): TraceContextFields | undefined {
  if (properties === undefined) return undefined;
  const traceparent = firstValue(properties.traceparent);
  if (traceparent === undefined) return undefined;
  const tracestate = firstValue(properties.tracestate);
  return tracestate === undefined ? { traceparent } : { traceparent, tracestate };
}

function firstValue(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : value?.[0];
}
