// Whether this process records traces, decided once at start-up: with OTEL_EXPORTER_OTLP_ENDPOINT
// set it registers a tracer provider that exports over OTLP/HTTP, the W3C Trace Context propagator
// and an AsyncLocalStorage context manager; without it nothing is registered, and the OpenTelemetry
// API the code calls (traceContext.ts) stays a no-op. The only module that uses the SDK.
import { context, diag, DiagLogLevel, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { Logger } from 'pino';
import { withoutCredentials, type Config } from '../config/env.js';

export interface Tracing {
  /** Exports what is still buffered, then unregisters (the last user of a shared registration). */
  shutdown(): Promise<void>;
}

export interface RegisterTracingOptions {
  serviceName: string;
  /** Where finished spans go: a batch to OTLP in production, a test's in-memory exporter. */
  spanProcessor: SpanProcessor;
  /** Receives the SDK's own warnings and errors (an export that failed, a collector that is down). */
  logger?: Logger;
}

/** How long a stop waits for the last spans to be exported. */
const SHUTDOWN_TIMEOUT_MS = 5_000;

/** The registration of this process. Several runtimes in one process (tests) share the first one. */
let registration: { provider: BasicTracerProvider; users: number } | undefined;

/**
 * Registers a tracer provider with `spanProcessor`, the W3C Trace Context propagator (and no other)
 * and an AsyncLocalStorage context manager, so a span's context follows its work across awaits.
 * Throws when something else registered a tracer provider in this process first.
 */
export function registerTracing(options: RegisterTracingOptions): Tracing {
  if (registration !== undefined) {
    registration.users++;
    return handleOf(registration);
  }
  const resource = defaultResource()
    .merge(detectResources({ detectors: [envDetector] }))
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName }));
  const provider = new BasicTracerProvider({ resource, spanProcessors: [options.spanProcessor] });
  if (!trace.setGlobalTracerProvider(provider)) {
    throw new Error('an OpenTelemetry tracer provider was registered in this process before the MES tracing set-up; unset OTEL_EXPORTER_OTLP_ENDPOINT to use that one');
  }
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  if (options.logger !== undefined) {
    const logger = options.logger.child({ component: 'tracing' });
    diag.setLogger(
      {
        error: (message, ...args) => logger.warn({ args }, `OpenTelemetry: ${message}`),
        warn: (message, ...args) => logger.warn({ args }, `OpenTelemetry: ${message}`),
        info: () => undefined,
        debug: () => undefined,
        verbose: () => undefined,
      },
      DiagLogLevel.WARN,
    );
  }
  registration = { provider, users: 1 };
  return handleOf(registration);
}

function handleOf(registered: { provider: BasicTracerProvider; users: number }): Tracing {
  let shut = false;
  return {
    async shutdown() {
      if (shut) return;
      shut = true;
      registered.users--;
      if (registered.users > 0) return;
      if (registration === registered) registration = undefined;
      let timer: NodeJS.Timeout | undefined;
      try {
        // A collector that is down would hold the stop for the exporter's retries; bound it.
        await Promise.race([
          registered.provider.shutdown(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`spans not exported within ${SHUTDOWN_TIMEOUT_MS / 1000} s of stopping; they are lost`)), SHUTDOWN_TIMEOUT_MS);
          }),
        ]);
      } finally {
        clearTimeout(timer);
        trace.disable();
        propagation.disable();
        context.disable();
        diag.disable();
      }
    },
  };
}

/**
 * Starts tracing for a process as its configuration says: undefined (nothing registered) when no
 * OTLP endpoint is configured. `processName` is the service name unless OTEL_SERVICE_NAME is set.
 */
export function startTracing(config: Pick<Config, 'tracing'>, processName: string, logger?: Logger): Tracing | undefined {
  const { otlpTracesUrl, serviceName } = config.tracing;
  if (otlpTracesUrl === undefined) return undefined;
  const tracing = registerTracing({
    serviceName: serviceName ?? processName,
    spanProcessor: new BatchSpanProcessor(new OTLPTraceExporter({ url: otlpTracesUrl })),
    ...(logger === undefined ? {} : { logger }),
  });
  logger?.info({ otlpTracesUrl: withoutCredentials(otlpTracesUrl), serviceName: serviceName ?? processName }, 'traces exported over OTLP');
  return tracing;
}
