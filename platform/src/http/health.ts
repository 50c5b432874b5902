// GET /health (CONTRACT §5): 200 when every dependency answers, else 503 naming what does not.
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';

export type HealthCheck = () => Promise<void>;

export interface HealthReport {
  status: 'ok' | 'unavailable';
  checks: Record<string, { ok: true } | { ok: false; error: string }>;
  /** What an operator should know although every dependency answers (e.g. rejected readings); never changes the status. */
  notices?: Record<string, unknown>;
}

/** Something to show in /health beside the checks; undefined: nothing to say now. */
export type HealthNotice = () => unknown;

export class HealthRegistry {
  private readonly checks = new Map<string, HealthCheck>();
  private readonly notices = new Map<string, HealthNotice>();

  /** Adds a notice shown under `notices` while it has something to say. */
  notice(name: string, read: HealthNotice): void {
    this.notices.set(name, read);
  }

  /** Adds a dependency check; it should reject (with a reason) within a few seconds when down. */
  register(name: string, check: HealthCheck): void {
    this.checks.set(name, check);
  }

  async run(timeoutMs = 3_000): Promise<HealthReport> {
    const entries = await Promise.all(
      [...this.checks].map(async ([name, check]) => {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        });
        try {
          await Promise.race([check(), timeout]);
          return [name, { ok: true }] as const;
        } catch (err) {
          return [name, { ok: false, error: (err as Error).message }] as const;
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    const checks = Object.fromEntries(entries) as HealthReport['checks'];
    const notices = Object.fromEntries([...this.notices].map(([name, read]) => [name, read()] as const).filter(([, value]) => value !== undefined));
    return { status: entries.every(([, result]) => result.ok) ? 'ok' : 'unavailable', checks, ...(Object.keys(notices).length > 0 ? { notices } : {}) };
  }
}

export function natsHealthCheck(nc: NatsConnection): HealthCheck {
  return async () => {
    if (nc.isClosed()) throw new Error('connection closed');
    await nc.flush();
    await (await jetstreamManager(nc)).getAccountInfo();
  };
}
