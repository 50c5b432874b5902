// One NATS connection per process: reconnects forever (a broker restart is an outage to ride out,
// not a reason to exit) and drains on stop so in-flight publishes and acks complete.
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { withoutCredentials } from '../config/env.js';

export interface NatsConnectOptions {
  url: string;
  /** Shown in the server's connection list, e.g. `mes-workflow`. */
  name: string;
  logger: Logger;
  /** How long to keep trying the first connection before giving up. */
  initialTimeoutMs?: number;
}

export class NatsUnreachableError extends Error {
  readonly code = 'NATS_UNREACHABLE';
  constructor(url: string, cause: unknown) {
    super(`cannot reach NATS at ${withoutCredentials(url)} (NATS_URL): ${(cause as Error)?.message ?? String(cause)}. Start a server with JetStream (nats-server -js) or set NATS_URL.`, { cause });
    this.name = 'NatsUnreachableError';
  }
}

export async function connectNats(options: NatsConnectOptions): Promise<NatsConnection> {
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: options.url,
      name: options.name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      timeout: options.initialTimeoutMs ?? 5_000,
    });
  } catch (err) {
    throw new NatsUnreachableError(options.url, err);
  }
  // NATS_URL may carry user:password@ for each server; logs show it without.
  const shown = withoutCredentials(options.url);
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') options.logger.warn({ server: shown }, 'NATS disconnected; reconnecting');
      else if (status.type === 'reconnect') options.logger.info({ server: shown }, 'NATS reconnected');
      else if (status.type === 'error') options.logger.error({ err: status.error }, 'NATS connection error');
    }
  })();
  return nc;
}

/** Drains (finishes in-flight work, then closes); closes outright if draining takes too long. */
export async function drainNats(nc: NatsConnection, timeoutMs = 10_000): Promise<void> {
  if (nc.isClosed()) return;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), timeoutMs); });
  const result = await Promise.race([nc.drain().then(() => 'drained' as const, () => 'failed' as const), timedOut]);
  clearTimeout(timer);
  if (result !== 'drained' && !nc.isClosed()) await nc.close();
}
