// What `npm start` runs (`node app/dist/main.js`), as a person runs it: a real process with real
// sockets. It starts nats-server and the embedded MQTT broker when nothing answers at NATS_URL /
// MQTT_URL, carries a fault reading through to an approval email in the development mailbox, and
// stops everything it started on Ctrl-C.
import { freePort, startMosquitto, startNatsServer, startSmtpCapture } from '@mes/platform/testing';
import mqtt from 'mqtt';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { answers } from './development/tcp.js';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));

interface MainProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running: MainProcess[] = [];
const tempDirs: string[] = [];

/** Runs the built entry in a process group of its own, as a terminal would, with exactly `env`. */
function startMain(env: NodeJS.ProcessEnv): MainProcess {
  const child = spawn(process.execPath, [MAIN], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => void (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const main = { child, stdout: () => stdout, stderr: () => stderr, exit };
  running.push(main);
  return main;
}

function outputOf(main: MainProcess): string {
  return `--- stdout ---\n${main.stdout().slice(-6_000)}\n--- stderr ---\n${main.stderr().slice(-6_000)}`;
}

/** Polls `probe` until it returns a value; fails naming `what`, with the process's output, if `main` exits first or time runs out. */
async function until<T>(main: MainProcess, what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (main.child.exitCode !== null || main.child.signalCode !== null) throw new Error(`node app/dist/main.js exited while waiting for ${what}\n${outputOf(main)}`);
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${outputOf(main)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function untilBanner(main: MainProcess): Promise<void> {
  await until(main, 'the "MES is running" banner', async () => (main.stdout().includes('MES is running.') ? true : undefined), 45_000);
}

async function withTimeout<T>(what: string, promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mes-npm-start-'));
  tempDirs.push(dir);
  return dir;
}

/** The environment of a developer's shell for `npm start`, without anything inherited that would change it. */
function baseEnv(dataDir: string, httpPort: number): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: dataDir,
    HTTP_PORT: String(httpPort),
    HTTP_HOST: '127.0.0.1',
    PUBLIC_URL: `http://127.0.0.1:${httpPort}`,
    DATA_DIR: dataDir,
    SQL_URL: `sqlite:${join(dataDir, 'mes.sqlite')}`,
  };
}

interface MailboxJson {
  messages: { to: string; subject: string }[];
}

describe('npm start (node app/dist/main.js)', () => {
  beforeAll(() => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (npm run build; npm test builds before it tests)`);
  });

  afterEach(async () => {
    for (const main of running.splice(0)) {
      if (main.child.exitCode === null && main.child.signalCode === null) {
        // A failed test: stop it the normal way so that the nats-server it started stops too.
        process.kill(-main.child.pid!, 'SIGINT');
        await withTimeout('the process to stop', main.exit, 20_000).catch(() => process.kill(-main.child.pid!, 'SIGKILL'));
      }
    }
    await Promise.all(tempDirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it('starts nats-server and the embedded MQTT broker, turns a fault into an approval email, serves the console, and stops it all on Ctrl-C', async () => {
    const [natsPort, mqttPort, httpPort] = [await freePort(), await freePort(), await freePort()];
    const dataDir = await tempDir();
    const natsUrl = `nats://127.0.0.1:${natsPort}`;
    const mqttUrl = `mqtt://127.0.0.1:${mqttPort}`;
    const main = startMain({ ...baseEnv(dataDir, httpPort), NATS_URL: natsUrl, MQTT_URL: mqttUrl });
    await untilBanner(main);

    const stdout = main.stdout();
    expect(stdout).toContain(`Started nats-server (JetStream, store ${join(dataDir, 'nats')}) on ${natsUrl}`);
    expect(stdout).toContain(`No MQTT broker at ${mqttUrl}: started an embedded broker (aedes) there; for production run Mosquitto and set MQTT_URL.`);
    const httpUrl = `http://127.0.0.1:${httpPort}`;
    expect(stdout).toContain(`Web console: ${httpUrl}/`);
    expect(stdout).toContain(`Development mailbox: ${httpUrl}/dev/mailbox`);
    expect(stdout).toMatch(/Development API token \(kept in .+\): \S{16,}/);

    const publisher = await mqtt.connectAsync(mqttUrl, { reconnectPeriod: 0 });
    await publisher.publishAsync(
      'mes/P1/M-1/telemetry',
      JSON.stringify({ machineStatus: 'Fault', qualityTrend: 'Stable', productionTarget: 100, productionActual: 40, messageId: 'npm-start-1' }),
      { qos: 1 },
    );
    await publisher.endAsync();

    const email = await until(main, `the approval email to alice for M-1 in ${httpUrl}/dev/mailbox.json`, async () => {
      const response = await fetch(`${httpUrl}/dev/mailbox.json`);
      const { messages } = (await response.json()) as MailboxJson;
      return messages.find((m) => m.to.includes('alice@plant1.example') && m.subject.includes('M-1') && /MO_\w+/.test(m.subject));
    }, 30_000);
    expect(email.subject).toMatch(/MO_\w+/);

    const page = await fetch(`${httpUrl}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain('action="/console/sign-in"');
    expect(html).toContain('href="/health"');
    expect(html).toContain('href="/dev/mailbox"');
    // The console's assets are built by npm start's build step and served by the process.
    const styles = /href="(\/console\/assets\/[^"]+\.css)"/.exec(html)?.[1];
    expect(styles, html).toBeDefined();
    expect((await fetch(`${httpUrl}${styles}`)).status).toBe(200);
    const token = /Development API token \(kept in .+\): (\S{16,})/.exec(stdout)?.[1] ?? '';
    const signIn = await fetch(`${httpUrl}/console/sign-in`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token }).toString() });
    expect(signIn.status).toBe(303);
    const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0]!;
    const shell = await (await fetch(`${httpUrl}/`, { headers: { cookie } })).text();
    expect(shell).toMatch(/<script type="module" src="\/console\/assets\/main-[^"]+\.js"><\/script>/);
    expect((await fetch(`${httpUrl}/health`)).status).toBe(200);

    // Ctrl-C at a terminal signals the whole foreground process group.
    process.kill(-main.child.pid!, 'SIGINT');
    const { code } = await withTimeout(`the process to stop\n${outputOf(main)}`, main.exit, 30_000);
    expect(code, outputOf(main)).toBe(0);
    expect(main.stdout()).toContain('MES stopped.');
    expect(await answers('127.0.0.1', natsPort, 500)).toBe(false);
    expect(await answers('127.0.0.1', mqttPort, 500)).toBe(false);
  });

  it('uses the NATS server and MQTT broker that already answer, and starts neither', async () => {
    const [nats, mosquitto] = await Promise.all([startNatsServer(), startMosquitto()]);
    try {
      const httpPort = await freePort();
      const main = startMain({ ...baseEnv(await tempDir(), httpPort), NATS_URL: nats.url, MQTT_URL: mosquitto.url });
      await untilBanner(main);
      expect(main.stdout()).not.toContain('Started nats-server');
      expect(main.stdout()).not.toContain('embedded broker');
      main.child.kill('SIGTERM');
      const { code } = await withTimeout(`the process to stop\n${outputOf(main)}`, main.exit, 30_000);
      expect(code, outputOf(main)).toBe(0);
      expect(await answers('127.0.0.1', nats.port, 500)).toBe(true);
    } finally {
      await Promise.all([nats.dispose(), mosquitto.dispose()]);
    }
  });

  it('exits 1 with one sentence when nothing answers at NATS_URL and nats-server is not on the PATH', async () => {
    const [natsPort, mqttPort, httpPort] = [await freePort(), await freePort(), await freePort()];
    const dataDir = await tempDir();
    const emptyBin = await tempDir();
    const main = startMain({ ...baseEnv(dataDir, httpPort), PATH: emptyBin, NATS_URL: `nats://127.0.0.1:${natsPort}`, MQTT_URL: `mqtt://127.0.0.1:${mqttPort}` });
    const { code } = await withTimeout(`the process to exit\n${outputOf(main)}`, main.exit, 20_000);
    expect(code, outputOf(main)).toBe(1);
    expect(main.stderr().trim()).toBe(
      `No NATS server answers at nats://127.0.0.1:${natsPort} (NATS_URL) and nats-server is not on the PATH: install it (Debian: apt-get install -y nats-server, which puts it in /usr/sbin) or point NATS_URL at a NATS server with JetStream.`,
    );
    expect(main.stdout()).toBe('');
    expect(await answers('127.0.0.1', mqttPort, 500)).toBe(false);
  });

  describe('with MES_ENV=production', () => {
    const productionEnv = (dataDir: string, httpPort: number, smtpUrl: string): NodeJS.ProcessEnv => ({
      ...baseEnv(dataDir, httpPort),
      MES_ENV: 'production',
      SMTP_URL: smtpUrl,
      API_TOKEN: 'production-test-token-0123456789',
      APPROVAL_SECRET: 'production-test-secret-0123456789abcdefghij',
    });

    it('refuses to start, naming each missing variable in one message', async () => {
      const httpPort = await freePort();
      const { PUBLIC_URL: _unset, ...env } = baseEnv(await tempDir(), httpPort);
      const main = startMain({ ...env, MES_ENV: 'production', API_TOKEN: 'production-test-token-0123456789' });
      const { code } = await withTimeout(`the process to exit\n${outputOf(main)}`, main.exit, 20_000);
      expect(code, outputOf(main)).toBe(1);
      const stderr = main.stderr();
      for (const variable of ['SMTP_URL', 'APPROVAL_SECRET', 'PUBLIC_URL']) expect(stderr).toContain(`${variable}: must be set when MES_ENV=production`);
      expect(stderr).not.toContain('API_TOKEN:');
      expect(main.stdout()).toBe('');
    });

    it('starts no embedded NATS server or MQTT broker when none answers', async () => {
      const [natsPort, mqttPort, httpPort] = [await freePort(), await freePort(), await freePort()];
      const main = startMain({ ...productionEnv(await tempDir(), httpPort, 'smtp://127.0.0.1:2525'), NATS_URL: `nats://127.0.0.1:${natsPort}`, MQTT_URL: `mqtt://127.0.0.1:${mqttPort}` });
      const { code } = await withTimeout(`the process to exit\n${outputOf(main)}`, main.exit, 30_000);
      expect(code, outputOf(main)).toBe(1);
      expect(main.stderr()).toContain(`cannot reach NATS at nats://127.0.0.1:${natsPort}`);
      expect(main.stdout()).not.toContain('Started nats-server');
      expect(await answers('127.0.0.1', natsPort, 500)).toBe(false);
      expect(await answers('127.0.0.1', mqttPort, 500)).toBe(false);
    });

    it('runs against the plant\'s servers and serves no development mailbox', async () => {
      const [nats, mosquitto, smtp] = await Promise.all([startNatsServer(), startMosquitto(), startSmtpCapture()]);
      try {
        const httpPort = await freePort();
        const main = startMain({ ...productionEnv(await tempDir(), httpPort, smtp.url), NATS_URL: nats.url, MQTT_URL: mosquitto.url });
        await untilBanner(main);
        expect(main.stdout()).not.toContain('Development mailbox');
        expect(main.stdout()).not.toContain('Development API token');
        const httpUrl = `http://127.0.0.1:${httpPort}`;
        for (const path of ['/dev/mailbox', '/dev/mailbox.json']) expect((await fetch(`${httpUrl}${path}`)).status, path).toBe(404);
        main.child.kill('SIGTERM');
        const { code } = await withTimeout(`the process to stop\n${outputOf(main)}`, main.exit, 30_000);
        expect(code, outputOf(main)).toBe(0);
      } finally {
        await Promise.all([nats.dispose(), mosquitto.dispose(), smtp.close()]);
      }
    });
  });
});
