#!/usr/bin/env node
// bench: open-workflows
// `npm run bench:open-workflows`: what many incidents waiting for a decision cost (issue "Adapt in
// milliseconds": 10k open workflows in at most 512 MB, their start-up recovery pass in at most 10 s).
//
//   npm run build && node bench/openWorkflows.mjs [--open 10000] 
//   (SYSTEM_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' profiles each start of the system: node
//   flags given before the entry point, as --cpu-prof is not allowed in NODE_OPTIONS)
//
// The system runs as `npm start` runs it (app/dist/main.js, every service in one process) against
// an isolated nats-server, Mosquitto, an SMTP server on loopback and a SQLite file. One Fault
// reading on each of `--open` machines opens as many workflows, each waiting for its approver (the
// plant's timeout is a week, so none escalates during the run). Measured: the process's resident
// memory idle and with every workflow open (after their emails were sent), then a restart: the time
// from the process starting to the workflow service's recovery pass over the open workflows being
// done, and the pass itself as the service logs it; baselines are the same figures of the first
// start, with nothing open. Prints lines for people, then one JSON line for `npm run bench`.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs, printResult, row } from './protocol.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = parseArgs();
const OPEN = Number(args.open ?? 10_000);
const MEMORY_TARGET_MB = 512;
const RECOVERY_TARGET_S = 10;

const load = (path) => import(join(root, path));
let harness;
try {
  harness = await Promise.all([load('platform/dist/testing/natsServer.js'), load('platform/dist/testing/mosquitto.js'), load('platform/dist/testing/processHarness.js')]);
} catch (err) {
  console.error(`bench:open-workflows needs the build: run npm run build first (${err.message})`);
  process.exit(1);
}
const [{ startNatsServer }, { startMosquitto }, { freePort }] = harness;
const { default: mqtt } = await import('mqtt');
const { SMTPServer } = await import('smtp-server');

const log = (line) => console.log(line);
const mb = (bytes) => Math.round(bytes / 1024 / 1024);

/** Resident memory of a process (Linux, /proc). */
function rssBytes(pid) {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(line.split(/\s+/)[1]) * 1024;
}

/** An SMTP server that counts the approval emails it receives. */
async function startMailSink() {
  let received = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, callback) {
      stream.on('data', () => undefined);
      stream.on('end', () => {
        received++;
        callback();
      });
    },
  });
  // A connection reset by a client (a process stopping) is no reason to stop the benchmark.
  server.on('error', () => undefined);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `smtp://127.0.0.1:${server.server.address().port}`, received: () => received, close: () => new Promise((resolve) => server.close(resolve)) };
}

/**
 * Starts the whole system as `npm start` does; resolves when the workflow service's recovery pass
 * is done, with how long that took from spawning and the pass's own figures from its log line.
 */
function startSystem(env) {
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, [...(process.env.SYSTEM_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? []), join(root, 'app/dist/main.js')], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr = (stderr + chunk).slice(-4000)));
  const resumed = new Promise((resolve, reject) => {
    exited.then((how) => reject(new Error(`the system exited (${how}) before it was ready: ${stderr}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      const entry = JSON.parse(line);
      if (entry.level >= 50) process.stderr.write(`system: ${line.slice(0, 400)}\n`);
      if (entry.msg === 'open workflows resumed') resolve({ readyS: (performance.now() - spawnedAt) / 1000, passS: entry.ms / 1000, resumed: entry.resumed, failed: entry.failed, inOnePass: entry.inOnePass });
    });
  });
  return {
    pid: child.pid,
    resumed,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function waitUntil(what, check, timeoutMs, progress) {
  const until = Date.now() + timeoutMs;
  let lastNote = Date.now();
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    if (progress && Date.now() - lastNote > 5_000) {
      progress();
      lastNote = Date.now();
    }
    await sleep(200);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'mes-bench-open-'));
const nats = await startNatsServer();
const broker = await startMosquitto({ maxQueuedMessages: 0 });
const sink = await startMailSink();
const httpPort = await freePort();
const configPath = join(dir, 'plants.yaml');
writeFileSync(
  configPath,
  `plants:
  P1:
    approvers:
      - { email: approver@plant1.example, name: Plant One Approver }
    approvalTimeout: P7D
    resources:
      - { id: P1-T-01, type: Technician, name: Technician One }
      - { id: P1-EQ-01, type: Equipment, name: Equipment One }
    rules:
      - { when: { machineStatus: Fault }, action: maintenance, reason: "Machine fault" }
`,
);
const env = {
  NATS_URL: nats.url,
  MQTT_URL: broker.url,
  SMTP_URL: sink.url,
  SQL_URL: `sqlite:${join(dir, 'mes.sqlite')}`,
  DATA_DIR: join(dir, 'data'),
  MES_CONFIG: configPath,
  HTTP_PORT: String(httpPort),
  HTTP_HOST: '127.0.0.1',
  API_TOKEN: 'bench-open-workflows-token',
  APPROVAL_SECRET: 'bench-open-workflows-approval-secret-0123456789',
  LOG_LEVEL: 'info',
};

let system;
const rows = [];
try {
  log(`open workflows: ${OPEN} incidents waiting for approval; ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'})`);
  system = startSystem(env);
  const first = await system.resumed;
  await sleep(3_000);
  const idleRss = rssBytes(system.pid);
  log(`first start: ready (recovery pass done) ${first.readyS.toFixed(2)} s after spawning; idle RSS ${mb(idleRss)} MB`);

  const client = await mqtt.connectAsync(broker.url, { clientId: 'bench-open-workflows', clean: true });
  const reading = JSON.stringify({ machineStatus: 'Fault', qualityTrend: 'Stable', productionTarget: 100, productionActual: 40 });
  const machines = Array.from({ length: OPEN }, (_, i) => `M-${String(i).padStart(5, '0')}`);
  const publishStarted = performance.now();
  for (let i = 0; i < machines.length; i += 500) {
    await Promise.all(machines.slice(i, i + 500).map((machine) => client.publishAsync(`mes/P1/${machine}/telemetry`, reading, { qos: 1 })));
  }
  await client.endAsync();
  await waitUntil(`${OPEN} approval emails`, () => sink.received() >= OPEN, 30 * 60_000, () => log(`  ${sink.received()} of ${OPEN} emails so far`));
  const openedS = (performance.now() - publishStarted) / 1000;
  log(`${OPEN} workflows open (every approval email received) in ${openedS.toFixed(1)} s`);
  // Let the projections and anything after the emails settle before measuring.
  await sleep(10_000);
  const openRss = rssBytes(system.pid);
  log(`RSS with ${OPEN} open: ${mb(openRss)} MB (${((openRss - idleRss) / 1024 / 1024 / (OPEN / 1000)).toFixed(1)} MB per 1,000 above idle)`);

  await system.stop();
  const emailsBefore = sink.received();
  system = startSystem(env);
  const again = await system.resumed;
  log(`restart: ${again.resumed} open workflows resumed (${again.failed} failed, ${again.inOnePass ?? 0} read in one pass over workflow events); recovery pass ${again.passS.toFixed(2)} s, ready ${again.readyS.toFixed(2)} s after spawning`);
  await sleep(5_000);
  const restartedRss = rssBytes(system.pid);
  const resent = sink.received() - emailsBefore;
  log(`after the restart: RSS ${mb(restartedRss)} MB; approval emails sent again: ${resent} (expected 0)`);
  if (again.resumed !== OPEN) throw new Error(`the restart resumed ${again.resumed} open workflows, not ${OPEN}`);

  rows.push(
    row({ measure: `RSS with ${OPEN} open workflows`, value: mb(openRss), unit: 'MB', baseline: mb(idleRss), baselineName: 'idle, nothing open', ratio: null, target: `<= ${MEMORY_TARGET_MB} MB`, note: resent === 0 ? undefined : `${resent} emails sent again after the restart` }),
    row({ measure: `start-up recovery pass over ${OPEN} open`, value: +again.passS.toFixed(2), unit: 's', baseline: +first.passS.toFixed(2), baselineName: 'pass with nothing open', ratio: null, target: `<= ${RECOVERY_TARGET_S} s` }),
    row({ measure: `restart to ready with ${OPEN} open`, value: +again.readyS.toFixed(2), unit: 's', baseline: +first.readyS.toFixed(2), baselineName: 'first start, nothing open' }),
  );
} finally {
  await system?.stop().catch(() => undefined);
  await Promise.all([sink.close(), broker.dispose(), nats.dispose()]).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
}
printResult('open-workflows', rows);
