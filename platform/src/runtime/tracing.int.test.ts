// Spans leave the process over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set: a real HTTP
// server on loopback stands where a collector (or Jaeger's OTLP port) would.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/env.js';
import { createLogger } from './logger.js';
import { inSpan } from './traceContext.js';
import { startTracing } from './tracing.js';

interface Received {
  path: string | undefined;
  contentType: string | undefined;
  body: string;
}

interface OtlpJson {
  resourceSpans: { resource: { attributes: { key: string; value: { stringValue?: string } }[] }; scopeSpans: { spans: { name: string; traceId: string; parentSpanId?: string }[] }[] }[];
}

describe('OTLP export', () => {
  let server: Server;
  let endpoint: string;
  const received: Received[] = [];

  beforeAll(async () => {
    server = createServer((request, response) => {
      let body = '';
      request.setEncoding('utf8');
      request.on('data', (chunk: string) => (body += chunk));
      request.on('end', () => {
        received.push({ path: request.url, contentType: request.headers['content-type'], body });
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server?.close();
  });

  it('sends the spans of the process to OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces, named by OTEL_SERVICE_NAME, by the time it stops', async () => {
    const tracing = startTracing(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SERVICE_NAME: 'mes-traces-test' }), 'mes', createLogger({ service: 'test', level: 'silent' }));
    expect(tracing).toBeDefined();
    await inSpan('reading M-1', { kind: 'consumer', root: true }, () => inSpan('workflow handle MachineStatusChanged', {}, async () => undefined));
    await tracing!.shutdown();

    const exports = received.filter((r) => r.path === '/v1/traces');
    expect(exports.length).toBeGreaterThan(0);
    expect(exports[0]!.contentType).toMatch(/^application\/json/);
    const batches = exports.map((r) => JSON.parse(r.body) as OtlpJson);
    const resources = batches.flatMap((b) => b.resourceSpans.map((rs) => Object.fromEntries(rs.resource.attributes.map((a) => [a.key, a.value.stringValue]))));
    expect(resources.every((attributes) => attributes['service.name'] === 'mes-traces-test')).toBe(true);
    const spans = batches.flatMap((b) => b.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)));
    expect(spans.map((s) => s.name).sort()).toEqual(['reading M-1', 'workflow handle MachineStatusChanged']);
    expect(new Set(spans.map((s) => s.traceId)).size).toBe(1);
  });

  it('does not hold a stop for a collector that is down: it gives up on the last spans and says so', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const port = (closed.address() as AddressInfo).port;
    closed.close();
    const tracing = startTracing(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` }), 'mes', createLogger({ service: 'test', level: 'silent' }));
    await inSpan('reading M-2', { root: true }, async () => undefined);
    await expect(tracing!.shutdown()).rejects.toThrow(/spans not exported within 5 s of stopping/);
  });
});
