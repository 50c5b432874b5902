import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
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
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
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
    const runtime = await startRuntime('test', { first: service('first'), second: service('second') }, { NATS_URL: server.url, LOG_LEVEL: 'silent' });
    await runtime.stop();
    expect(order).toEqual(['start first', 'start second', 'stop second', 'stop first']);
    expect(runtime.deps.nc.isClosed()).toBe(true);
  });

  it('refuses bad configuration before connecting to anything', async () => {
    await expect(startRuntime('test', {}, { NATS_URL: server.url, HTTP_PORT: 'abc' })).rejects.toBeInstanceOf(ConfigError);
  });

  it('refuses PLANTS naming a plant the configuration does not have', async () => {
    await expect(startRuntime('test', {}, { NATS_URL: server.url, PLANTS: 'P1,P9', LOG_LEVEL: 'silent' })).rejects.toThrow(/PLANTS names P9, not in the plant configuration/);
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
