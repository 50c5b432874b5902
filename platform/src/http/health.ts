// GET /health (CONTRACT §5): 200 when every dependency answers, else 503 naming what does not.
// The answer names dependencies, never their error text (that goes to the log); checks that cost
// the dependency something (an SMTP greeting) are cached briefly and shared by concurrent callers,
// so polling /health cannot flood a mail server.
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';

export type HealthCheck = () => Promise<void>;

export interface HealthReport {
  status: 'ok' | 'unavailable';
  /** The names of the dependencies that did not answer. */
  down: string[];
  checks: Record<string, { ok: boolean }>;
  /** What an operator should know although every dependency answers (e.g. rejected readings); never changes the status. */
  notices?: Record<string, unknown>;
}

/** Something to show in /health beside the checks (public: counts, never data); undefined: nothing to say now. */
export type HealthNotice = () => unknown;

export interface HealthCheckOptions {
  /** How long a result is reused. Default 0: every request checks again (shared while one runs). */
  cacheMs?: number;
}

interface RegisteredCheck {
  check: HealthCheck;
  cacheMs: number;
  last?: { at: number; ok: boolean; reason?: string };
  running?: Promise<boolean>;
}

export class HealthRegistry {
  private readonly checks = new Map<string, RegisteredCheck>();
  private readonly notices = new Map<string, HealthNotice>();

  /** Adds a notice shown under `notices` while it has something to say. */
  notice(name: string, read: HealthNotice): void {
    this.notices.set(name, read);
  }

  constructor(private readonly logger?: Logger) {}

  /** Adds a dependency check; it should reject (with a reason, for the log) within a few seconds when down. */
  register(name: string, check: HealthCheck, options: HealthCheckOptions = {}): void {
    this.checks.set(name, { check, cacheMs: options.cacheMs ?? 0 });
  }

  async run(timeoutMs = 3_000): Promise<HealthReport> {
    const entries = await Promise.all([...this.checks].map(async ([name, registered]) => [name, await this.result(name, registered, timeoutMs)] as const));
    const down = entries.filter(([, ok]) => !ok).map(([name]) => name);
    const notices = Object.fromEntries([...this.notices].map(([name, read]) => [name, read()] as const).filter(([, value]) => value !== undefined));
    return { status: down.length === 0 ? 'ok' : 'unavailable', down, checks: Object.fromEntries(entries.map(([name, ok]) => [name, { ok }])), ...(Object.keys(notices).length > 0 ? { notices } : {}) };
  }

  private result(name: string, registered: RegisteredCheck, timeoutMs: number): Promise<boolean> {
    const now = Date.now();
    if (registered.last !== undefined && now - registered.last.at < registered.cacheMs) return Promise.resolve(registered.last.ok);
    registered.running ??= this.probe(registered.check, timeoutMs).then((reason) => {
      // Logged when a dependency goes down or fails differently, not on every poll.
      if (reason === undefined && registered.last?.ok === false) this.logger?.info({ dependency: name }, 'health check passes again');
      if (reason !== undefined && reason !== registered.last?.reason) this.logger?.warn({ dependency: name, reason }, 'health check failed');
      registered.last = { at: Date.now(), ok: reason === undefined, ...(reason === undefined ? {} : { reason }) };
      registered.running = undefined;
      return reason === undefined;
    });
    return registered.running;
  }

  /** Undefined when the check passed, else why it failed. */
  private async probe(check: HealthCheck, timeoutMs: number): Promise<string | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([check(), timeout]);
      return undefined;
    } catch (err) {
      return (err as Error).message;
    } finally {
      clearTimeout(timer);
    }
  }
}

export function natsHealthCheck(nc: NatsConnection): HealthCheck {
  return async () => {
    if (nc.isClosed()) throw new Error('connection closed');
    await nc.flush();
    await (await jetstreamManager(nc)).getAccountInfo();
  };
}
