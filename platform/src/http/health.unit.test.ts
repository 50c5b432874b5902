import { describe, expect, it } from 'vitest';
import { HealthRegistry } from './health.js';

describe('HealthRegistry', () => {
  it('names what is down without its error text', async () => {
    const health = new HealthRegistry();
    health.register('nats', async () => undefined);
    health.register('smtp', async () => {
      throw new Error('535 authentication failed for user mes at relay.internal:587');
    });
    expect(await health.run()).toEqual({ status: 'unavailable', down: ['smtp'], checks: { nats: { ok: true }, smtp: { ok: false } } });
  });

  it('reports a check that does not answer in time as down', async () => {
    const health = new HealthRegistry();
    health.register('sql', () => new Promise(() => undefined));
    expect(await health.run(20)).toMatchObject({ status: 'unavailable', down: ['sql'] });
  });

  it('runs a cached check once for many callers and reuses its answer for the cache time', async () => {
    const health = new HealthRegistry();
    let greetings = 0;
    health.register('smtp', async () => {
      greetings++;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }, { cacheMs: 60_000 });
    const reports = await Promise.all(Array.from({ length: 50 }, () => health.run()));
    expect(reports.every((report) => report.status === 'ok')).toBe(true);
    await health.run();
    expect(greetings).toBe(1);
  });

  it('checks an uncached dependency on every run, sharing a check in progress', async () => {
    const health = new HealthRegistry();
    let flushes = 0;
    health.register('nats', async () => {
      flushes++;
      await new Promise((resolve) => setTimeout(resolve, 5));
    });
    await Promise.all([health.run(), health.run()]);
    await health.run();
    expect(flushes).toBe(2);
  });
});
