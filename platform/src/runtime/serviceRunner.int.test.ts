import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../config/env.js';
import { freePort } from '../testing/processHarness.js';
import { startNatsServer, type NatsServerHandle } from '../testing/natsServer.js';
import { startRuntime, type ServiceDeps } from './serviceRunner.js';

const builtPlatform = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

/** Runs a process that serves one probe service through runServices, as a service's main.ts does. */
function runProbe(env: NodeJS.ProcessEnv): { exited: Promise<{ code: number | null; stdout: string; stderr: string }>; kill(signal: NodeJS.Signals): void; waitForOutput(text: string): Promise<void> } {
  const script = `
    import { runServices } from ${JSON.stringify(builtPlatform)};
    await runServices('probe', {
      probe: async (deps) => ({ stop: async () => deps.logger.info('probe service stopped') }),
    });`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { PATH: process.env.PATH, HTTP_PORT: '0', HTTP_HOST: '127.0.0.1', DATA_DIR: mkdtempSync(join(tmpdir(), 'mes-data-')), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters: { text: string; resolve: () => void }[] = [];
  const check = () => {
    for (const waiter of waiters.splice(0)) {
      if (stdout.includes(waiter.text)) waiter.resolve();
      else waiters.push(waiter);
    }
  };
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); check(); });
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  return {
    exited: new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr }))),
    kill: (signal) => child.kill(signal),
    waitForOutput: (text) => new Promise((resolve) => { waiters.push({ text, resolve }); check(); }),
  };
}

describe('service runner', () => {
  let server: NatsServerHandle;
  const testEnv = (): NodeJS.ProcessEnv => ({
    NATS_URL: server.url,
    LOG_LEVEL: 'silent',
    HTTP_PORT: '0',
    HTTP_HOST: '127.0.0.1',
    DATA_DIR: mkdtempSync(join(tmpdir(), 'mes-data-')),
  });

  beforeAll(async () => {
    if (!existsSync(builtPlatform)) throw new Error(`${builtPlatform} is missing: run npm run build first (npm test does)`);
    server = await startNatsServer();
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it('starts services on shared dependencies and stops them last-started-first', async () => {
    const order: string[] = [];
    const service = (name: string) => async (deps: ServiceDeps) => {
      expect(deps.plants.plants.P1).toBeDefined();
      await deps.eventStore.readStream('P1.order.MO_probe');
      order.push(`start ${name}`);
      return { stop: async () => void order.push(`stop ${name}`) };
    };
    const runtime = await startRuntime('test', { first: service('first'), second: service('second') }, testEnv());
    await runtime.stop();
    expect(order).toEqual(['start first', 'start second', 'stop second', 'stop first']);
    expect(runtime.deps.nc.isClosed()).toBe(true);
  });

  it('serves /health: 200 with NATS up, 503 naming NATS when it is down', async () => {
    const runtime = await startRuntime('test', {}, testEnv());
    try {
      const up = await fetch(`${runtime.httpUrl}/health`);
      expect(up.status).toBe(200);
      expect(await up.json()).toEqual({ status: 'ok', down: [], checks: { nats: { ok: true }, eventStore: { ok: true } } });
      await server.stop();
      const down = await fetch(`${runtime.httpUrl}/health`);
      expect(down.status).toBe(503);
      // Names what is down; why is in the log, not in an answer anyone can fetch.
      expect(await down.json()).toEqual({ status: 'unavailable', down: ['nats', 'eventStore'], checks: { nats: { ok: false }, eventStore: { ok: false } } });
    } finally {
      await server.start();
      await runtime.stop();
    }
  });

  it('protects /api with the bearer token and generates a development token once, under DATA_DIR', async () => {
    const env = testEnv();
    const runtime = await startRuntime('test', {
      probe: async (deps) => {
        deps.http.get('/api/probe', async () => ({ ok: true }));
        return { stop: async () => undefined };
      },
    }, env);
    try {
      const token = runtime.deps.secrets.apiToken;
      expect(runtime.banner.join('\n')).toContain(token);
      const stored = JSON.parse(readFileSync(join(env.DATA_DIR!, 'development-secrets.json'), 'utf8')) as { apiToken: string; approvalSecret: string };
      expect(stored.apiToken).toBe(token);
      expect(stored.approvalSecret).toBe(runtime.deps.secrets.approvalSecret);
      expect((await fetch(`${runtime.httpUrl}/api/probe`)).status).toBe(401);
      expect((await fetch(`${runtime.httpUrl}/api/probe`, { headers: { authorization: 'Bearer wrong-token-of-some-length' } })).status).toBe(401);
      const ok = await fetch(`${runtime.httpUrl}/api/probe`, { headers: { authorization: `Bearer ${token}` } });
      expect(ok.status).toBe(200);
      expect(ok.headers.get('x-content-type-options')).toBe('nosniff');
    } finally {
      await runtime.stop();
    }
    const again = await startRuntime('test', {}, env);
    expect(again.deps.secrets.apiToken).toBe(runtime.deps.secrets.apiToken);
    await again.stop();
  });

  it('refuses bad configuration before connecting to anything', async () => {
    await expect(startRuntime('test', {}, { NATS_URL: server.url, HTTP_PORT: 'abc' })).rejects.toBeInstanceOf(ConfigError);
  });

  it('refuses PLANTS naming a plant the configuration does not have', async () => {
    await expect(startRuntime('test', {}, { ...testEnv(), PLANTS: 'P1,P9' })).rejects.toThrow(/PLANTS names P9, not in the plant configuration/);
  });

  it('stops gracefully on SIGTERM and exits 0', async () => {
    const probe = runProbe({ NATS_URL: server.url });
    await probe.waitForOutput('service started');
    probe.kill('SIGTERM');
    const { code, stdout } = await probe.exited;
    expect(code).toBe(0);
    expect(stdout).toContain('probe service stopped');
    expect(stdout).toContain('"msg":"stopped"');
  });

  it('stops gracefully on SIGINT (Ctrl-C) too', async () => {
    const probe = runProbe({ NATS_URL: server.url });
    await probe.waitForOutput('service started');
    probe.kill('SIGINT');
    expect((await probe.exited).code).toBe(0);
  });

  it('exits 1 with one clear sentence when NATS cannot be reached', async () => {
    const port = await freePort();
    const { code, stderr } = await runProbe({ NATS_URL: `nats://127.0.0.1:${port}` }).exited;
    expect(code).toBe(1);
    expect(stderr).toContain(`probe: cannot start: cannot reach NATS at nats://127.0.0.1:${port} (NATS_URL)`);
    expect(stderr).toContain('Start a server with JetStream');
  });

  it('exits 1 naming the variable when configuration is bad', async () => {
    const { code, stderr } = await runProbe({ NATS_URL: server.url, DEDUPE_WINDOW: 'soon' }).exited;
    expect(code).toBe(1);
    expect(stderr).toMatch(/probe: cannot start: Invalid configuration:\n\s+DEDUPE_WINDOW: /);
  });
});
