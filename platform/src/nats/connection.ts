// One NATS connection per process: reconnects forever (a broker restart is an outage to ride out,
// not a reason to exit) and drains on stop so in-flight publishes and acks complete. NATS_URL may
// list several servers of one cluster: the first connection tries each of them, so a copy starts
// while any one answers.
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { withoutCredentials } from '../config/env.js';

export interface NatsConnectOptions {
  url: string;
  /** Shown in the server's connection list, e.g. `mes-workflow`. */
  name: string;
  logger: Logger;
  /** How long the first connection waits for each server's handshake before trying the next. */
  initialTimeoutMs?: number;
}

export class NatsUnreachableError extends Error {
  readonly code = 'NATS_UNREACHABLE';
  constructor(url: string, cause: unknown) {
    const servers = natsServers(url);
    const which = servers.length > 1 ? `any of the ${servers.length} NATS servers ${withoutCredentials(url)}` : `NATS at ${withoutCredentials(url)}`;
    super(`cannot reach ${which} (NATS_URL): ${(cause as Error)?.message ?? String(cause)}. Start a server with JetStream (nats-server -js) or set NATS_URL.`, { cause });
    this.name = 'NatsUnreachableError';
  }
}

/** The servers of a NATS_URL: one URL, or several of one cluster separated by commas. */
export function natsServers(url: string): string[] {
  return url.split(',').map((server) => server.trim()).filter((server) => server !== '');
}

export async function connectNats(options: NatsConnectOptions): Promise<NatsConnection> {
  let nc: NatsConnection;
  try {
    // The client tries the listed servers in random order and, before its first connection, drops
    // each one that fails and moves on to the next; it gives up only when none answered. (With
    // `waitOnFirstConnect` it would instead retry forever, and a wrong NATS_URL would hang start-up.)
    nc = await connect({
      servers: natsServers(options.url),
      name: options.name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      timeout: options.initialTimeoutMs ?? 5_000,
    });
  } catch (err) {
    throw new NatsUnreachableError(options.url, err);
  }
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') options.logger.warn({ server: status.server }, 'NATS disconnected; reconnecting');
      else if (status.type === 'reconnect') options.logger.info({ server: status.server }, 'NATS reconnected');
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
