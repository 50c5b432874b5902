// Where a server URL points, and whether something answers there: the probes `npm start` uses to
// decide which development servers it has to start itself.
import { createConnection } from 'node:net';

export interface ServerAddress {
  /** As in the URL, without IPv6 brackets. */
  host: string;
  port: number;
  /** scheme://host:port, without credentials, for messages. */
  shown: string;
}

/** The address of `url` (the first of a comma-separated list), with `defaultPort` when it names none. */
export function serverAddress(url: string, defaultPort: number): ServerAddress {
  const first = url.split(',')[0]!.trim();
  const parsed = new URL(first);
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = parsed.port === '' ? defaultPort : Number(parsed.port);
  const scheme = parsed.protocol.replace(/:$/, '');
  return { host, port, shown: `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}` };
}

/** Only loopback addresses get a development server: one on another host is someone else's to run. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Whether a TCP connection to host:port succeeds within `timeoutMs`. */
export function answers(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Polls until host:port answers; rejects with the reason `gaveUp()` returns once it returns one, or after `timeoutMs`. */
export async function waitUntilAnswers(host: string, port: number, gaveUp: () => string | undefined, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reason = gaveUp();
    if (reason !== undefined) throw new Error(reason);
    if (await answers(host, port, 500)) return;
    if (Date.now() > deadline) throw new Error(`nothing listened on ${host}:${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
