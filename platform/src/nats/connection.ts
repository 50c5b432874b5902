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
      // The client would build an Error (and its stack) for every request, in case it times out:
      // about a tenth of a busy service's CPU. A timeout still says which request timed out.
      noAsyncTraces: true,
    });
  } catch (err) {
    throw new NatsUnreachableError(options.url, err);
  }
  coalesceWrites(nc, options.logger);
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

/** What of the client's protocol handler `coalesceWrites` uses (not in its typings). */
interface ProtocolInternals {
  flushPending(): void;
  outbound?: { size(): number };
  pendingLimit?: number;
}

/**
 * Writes what the client queued during one turn of the event loop to the socket in one write. The
 * client writes each time its microtask queue drains, which under load is a write (a system call,
 * and on loopback the server's whole receive path) for every message or two: about a seventh of a
 * busy process's CPU. Deferring the write to the end of the turn (setImmediate) keeps the order and
 * adds at most the rest of the turn to a message's way out; a queue past the client's own limit is
 * still written at once. Uses the client's protocol handler, which its typings do not show: if a
 * later client changes it, writes simply stay as the client does them (and a warning says so).
 */
export function coalesceWrites(nc: NatsConnection, logger: Logger): void {
  const protocol = (nc as unknown as { protocol?: Partial<ProtocolInternals> }).protocol;
  if (typeof protocol?.flushPending !== 'function') {
    logger.warn('the NATS client has no flushPending any more: its writes are not coalesced (a performance loss, nothing else)');
    return;
  }
  const flushNow = protocol.flushPending.bind(protocol);
  let scheduled = false;
  const flushAtEndOfTurn = (): void => {
    scheduled = false;
    flushNow();
  };
  protocol.flushPending = () => {
    if ((protocol.outbound?.size() ?? 0) >= (protocol.pendingLimit ?? Infinity)) {
      flushNow();
      return;
    }
    if (scheduled) return;
    scheduled = true;
    setImmediate(flushAtEndOfTurn);
  };
}
