#!/usr/bin/env node
// bench: latency
// `npm run bench:latency`: how fast the system adapts, against the floor of its own design in the
// same run (issue "Adapt in milliseconds"):
//
//   npm run build && node bench/latency.mjs [--burst 100] [--sustained 2000] [--single 20]
//
// The floor: an MQTT QoS 1 reading, then five JetStream hops (durable consumers whose handlers only
// publish to the next hop, awaiting the JetStream ack, and ack), then one pooled SMTP send, all in
// this process. The system: every service in this process (as `npm start` runs them), isolated
// nats-server and Mosquitto, an SMTP server on loopback that notes when each email arrives, SQLite.
// Measured: one fault -> its approval email (idle, p50); a burst of faults on as many machines ->
// emails (p50, p99; vs the floor's burst); sustained faults on fresh machines -> emails
// (incidents/s); a burst of approvals POSTed at once -> ResourcesAllocated in the MaintenanceOrders
// table (p99). Prints lines for people, then one JSON line for `npm run bench`.
import { Buffer } from 'node:buffer';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { clearTimeout, setTimeout } from 'node:timers';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, URL, URLSearchParams } from 'node:url';
import { parseArgs } from './protocol.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = parseArgs();
const SINGLE = Number(args.single ?? 20);
const BURST = Number(args.burst ?? 100);
const SUSTAINED = Number(args.sustained ?? 2000);
const HOPS = 5;

const load = (path) => import(join(root, path));
let platform;
try {
  platform = await load('platform/dist/index.js');
} catch (err) {
  console.error(`bench:latency needs the build: run npm run build first (${err.message})`);
  process.exit(1);
}
const [{ startNatsServer }, { freePort }, { startMosquitto }, services] = await Promise.all([
  load('platform/dist/testing/natsServer.js'),
  load('platform/dist/testing/processHarness.js'),
  load('platform/dist/testing/mosquitto.js'),
  Promise.all(['ingest', 'workflow', 'maintenance', 'approvals', 'resources', 'projections'].map((name) => load(`services/${name}/dist/index.js`))),
]);
const [ingest, workflow, maintenance, approvals, resources, projections] = services;
const { default: mqtt } = await import('mqtt');
const { SMTPServer } = await import('smtp-server');
const { createTransport } = await import('nodemailer');
const { jetstream, jetstreamManager, AckPolicy, DeliverPolicy, RetentionPolicy, StorageType } = await import('@nats-io/jetstream');
const { connect } = await import('@nats-io/transport-node');
const { default: Database } = await import('better-sqlite3');

const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
};
const round = (ms) => Math.round(ms * 10) / 10;
const now = () => performance.timeOrigin + performance.now();

/** An SMTP server that notes when each message arrives and which machine its subject names. */
async function startMailSink() {
  const arrivals = new Map();
  const raw = new Map();
  const waiters = new Map();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, callback) {
      const chunks = [];
      stream.on('data', (chunk) => chunks.push(chunk));
      stream.on('end', () => {
        const at = now();
        const text = Buffer.concat(chunks).toString('utf8');
        const machine = /machine ([A-Za-z0-9_-]+)/.exec(text)?.[1];
        if (machine !== undefined && !arrivals.has(machine)) {
          arrivals.set(machine, at);
          raw.set(machine, text);
          waiters.get(machine)?.();
        }
        callback();
      });
    },
  });
  // A connection reset by a client (a process stopping) is no reason to stop the benchmark.
  server.on('error', () => undefined);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.server.address().port;
  return {
    url: `smtp://127.0.0.1:${port}`,
    port,
    arrivals,
    raw,
    waitFor(machine, timeoutMs = 60_000) {
      if (arrivals.has(machine)) return Promise.resolve(arrivals.get(machine));
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no email for ${machine} within ${timeoutMs} ms`)), timeoutMs);
        waiters.set(machine, () => {
          clearTimeout(timer);
          resolve(arrivals.get(machine));
        });
      });
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

const reading = (machineStatus) => JSON.stringify({ machineStatus, qualityTrend: 'Stable', productionTarget: 100, productionActual: 40 });

/** Publishes a fault for each machine at once (QoS 1), returning when each was sent. */
async function publishFaults(client, topicOf, machines) {
  const sentAt = new Map();
  await Promise.all(
    machines.map(async (machine) => {
      sentAt.set(machine, now());
      await client.publishAsync(topicOf(machine), reading('Fault'), { qos: 1 });
    }),
  );
  return sentAt;
}

async function latencies(sink, sentAt, timeoutMs) {
  const values = [];
  for (const [machine, at] of sentAt) values.push((await sink.waitFor(machine, timeoutMs)) - at);
  return values;
}

/** The floor pipeline: MQTT -> five JetStream hops -> one pooled SMTP send. */
async function startFloor(natsUrl, mqttUrl, sink) {
  const nc = await connect({ servers: natsUrl });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  await jsm.streams.add({ name: 'FLOOR', subjects: ['floor.>'], storage: StorageType.File, retention: RetentionPolicy.Limits });
  const mail = createTransport({ host: '127.0.0.1', port: sink.port, secure: false, ignoreTLS: true, pool: true, maxConnections: 5 });
  const loops = [];
  const consumers = [];
  for (let hop = 1; hop <= HOPS; hop++) {
    await jsm.consumers.add('FLOOR', { durable_name: `hop${hop}`, filter_subject: `floor.h${hop}`, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All });
    const consumer = await js.consumers.get('FLOOR', `hop${hop}`);
    const messages = await consumer.consume({ max_messages: 256 });
    consumers.push(messages);
    loops.push(
      (async () => {
        for await (const msg of messages) {
          const body = msg.json();
          if (hop < HOPS) await js.publish(`floor.h${hop + 1}`, JSON.stringify(body));
          else await mail.sendMail({ from: 'floor@bench', to: 'approver@bench', subject: `floor email for machine ${body.machine}`, text: 'floor' });
          msg.ack();
        }
      })(),
    );
  }
  const subscriber = await mqtt.connectAsync(mqttUrl, { clientId: 'floor-ingest', clean: true });
  await subscriber.subscribeAsync('floor/+/+/telemetry', { qos: 1 });
  subscriber.on('message', (topic, payload) => {
    const body = JSON.parse(payload.toString());
    void js.publish('floor.h1', JSON.stringify({ machine: topic.split('/')[2], ...body }));
  });
  return {
    async stop() {
      await subscriber.endAsync();
      for (const messages of consumers) messages.stop();
      await Promise.allSettled(loops);
      mail.close();
      await nc.close();
    },
  };
}

const dataDir = mkdtempSync(join(tmpdir(), 'mes-bench-latency-'));
const plantsYaml = `plants:
  B1:
    approvers:
      - { email: approver@bench.example, name: Bench Approver }
    approvalTimeout: PT1H
    resources:
${Array.from({ length: BURST }, (_, i) => `      - { id: T-${i}, type: Technician, name: Technician ${i} }\n      - { id: EQ-${i}, type: Equipment, name: Equipment ${i} }`).join('\n')}
    rules:
      - { when: { machineStatus: Fault }, action: maintenance, reason: "Machine fault" }
`;
writeFileSync(join(dataDir, 'plants.yaml'), plantsYaml);

const nats = await startNatsServer();
const mosquitto = await startMosquitto({ maxQueuedMessages: 0 });
const sink = await startMailSink();
const rows = [];
let runtime;
let floor;
let publisher;
try {
  publisher = await mqtt.connectAsync(mosquitto.url, { clientId: 'bench-publisher' });

  // The floor, in the same run.
  floor = await startFloor(nats.url, mosquitto.url, sink);
  const floorSingle = [];
  for (let i = 0; i < SINGLE; i++) floorSingle.push(...(await latencies(sink, await publishFaults(publisher, (m) => `floor/B1/${m}/telemetry`, [`F-s-${i}`]), 10_000)));
  const floorBurst = await latencies(sink, await publishFaults(publisher, (m) => `floor/B1/${m}/telemetry`, Array.from({ length: BURST }, (_, i) => `F-b-${i}`)), 60_000);
  await floor.stop();
  floor = undefined;
  console.error(`floor: single p50 ${round(percentile(floorSingle, 50))} ms, burst of ${BURST} p50 ${round(percentile(floorBurst, 50))} ms p99 ${round(percentile(floorBurst, 99))} ms`);

  // The system, every service in this process.
  const httpPort = await freePort();
  runtime = await platform.startRuntime(
    'bench-latency',
    { projections: projections.start, resources: resources.start, maintenance: maintenance.start, approvals: approvals.start, workflow: workflow.start, ingest: ingest.start },
    {
      NATS_URL: nats.url,
      MQTT_URL: mosquitto.url,
      SMTP_URL: sink.url,
      MES_CONFIG: join(dataDir, 'plants.yaml'),
      DATA_DIR: dataDir,
      SQL_URL: `sqlite:${join(dataDir, 'mes.sqlite')}`,
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(httpPort),
      PUBLIC_URL: `http://127.0.0.1:${httpPort}`,
      LOG_LEVEL: 'warn',
      API_TOKEN: 'bench-latency-api-token-0123456789',
      APPROVAL_SECRET: 'bench-latency-approval-secret-0123456789abcdef',
      MQTT_CLIENT_ID: 'bench-latency-ingest',
    },
  );
  await sleep(500);
  const topic = (machine) => `mes/B1/${machine}/telemetry`;

  const single = [];
  for (let i = 0; i < SINGLE; i++) single.push(...(await latencies(sink, await publishFaults(publisher, topic, [`S-${i}`]), 10_000)));
  console.error(`system: one fault -> email p50 ${round(percentile(single, 50))} ms (p99 ${round(percentile(single, 99))} ms)`);

  const burstMachines = Array.from({ length: BURST }, (_, i) => `B-${i}`);
  const burst = await latencies(sink, await publishFaults(publisher, topic, burstMachines), 120_000);
  console.error(`system: burst of ${BURST} faults -> emails p50 ${round(percentile(burst, 50))} ms p99 ${round(percentile(burst, 99))} ms`);

  const sustainedMachines = Array.from({ length: SUSTAINED }, (_, i) => `U-${i}`);
  const sustainedStart = now();
  const cpuBefore = process.cpuUsage();
  await publishFaults(publisher, topic, sustainedMachines);
  let last = 0;
  for (const machine of sustainedMachines) last = Math.max(last, await sink.waitFor(machine, 600_000));
  const perSecond = (SUSTAINED * 1000) / (last - sustainedStart);
  // CPU of this process (every service, the publisher and the mail sink) per incident: steadier than rates on a busy machine.
  const cpu = process.cpuUsage(cpuBefore);
  const cpuPerIncidentMs = (cpu.user + cpu.system) / 1000 / SUSTAINED;
  console.error(`system: ${SUSTAINED} faults on fresh machines -> emails at ${Math.round(perSecond)} incidents/s (${cpuPerIncidentMs.toFixed(2)} ms CPU per incident in this process, ${(cpu.system / (cpu.user + cpu.system) * 100).toFixed(0)}% of it in the kernel)`);

  // A burst of approvals: every order of the burst approved at once, until each is ResourcesAllocated in SQL.
  const approveLinks = burstMachines.map((machine) => {
    const text = sink.raw.get(machine).replace(/=\r?\n/g, '').replace(/=3D/g, '=');
    const link = /(https?:\/\/\S+\/approvals\/\S+\/approve\?token=[A-Za-z0-9_.-]+)/.exec(text)?.[1];
    if (link === undefined) throw new Error(`no approve link in the email for ${machine}`);
    return { machine, link, orderId: /(MO_[A-Za-z0-9_-]+)/.exec(text)?.[1] };
  });
  const sql = new Database(join(dataDir, 'mes.sqlite'), { readonly: true });
  const approvedAt = new Map();
  await Promise.all(
    approveLinks.map(async ({ link, orderId }) => {
      const url = new URL(link);
      const token = url.searchParams.get('token');
      url.search = '';
      approvedAt.set(orderId, now());
      const response = await globalThis.fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token }).toString() });
      if (response.status !== 200) throw new Error(`approval of ${orderId} answered ${response.status}`);
    }),
  );
  const allocatedAt = new Map();
  const statement = sql.prepare("SELECT OrderID FROM MaintenanceOrders WHERE Status = 'ResourcesAllocated'");
  const deadline = now() + 120_000;
  while (allocatedAt.size < approveLinks.length) {
    for (const { OrderID } of statement.all()) if (approvedAt.has(OrderID) && !allocatedAt.has(OrderID)) allocatedAt.set(OrderID, now());
    if (now() > deadline) throw new Error(`only ${allocatedAt.size} of ${approveLinks.length} orders reached ResourcesAllocated in SQL`);
    await sleep(2);
  }
  sql.close();
  const approvalLatencies = [...allocatedAt].map(([orderId, at]) => at - approvedAt.get(orderId));
  console.error(`system: ${BURST} approvals at once -> ResourcesAllocated in SQL p50 ${round(percentile(approvalLatencies, 50))} ms p99 ${round(percentile(approvalLatencies, 99))} ms`);

  rows.push(
    { measure: 'one Fault reading -> approval email, idle, p50', value: round(percentile(single, 50)), unit: 'ms', baseline: round(percentile(floorSingle, 50)), baselineName: 'floor (5 hops + SMTP) p50', ratio: round(percentile(single, 50) / percentile(floorSingle, 50)), target: '<= 40 ms' },
    { measure: `${BURST} Fault readings on ${BURST} machines at once -> emails, p99`, value: round(percentile(burst, 99)), unit: 'ms', baseline: round(percentile(floorBurst, 99)), baselineName: 'floor burst p99', ratio: round(percentile(burst, 99) / percentile(floorBurst, 99)), target: '<= 2x the floor' },
    { measure: `sustained: ${SUSTAINED} Faults on fresh machines -> emails`, value: Math.round(perSecond), unit: 'incidents/s', baseline: null, baselineName: null, ratio: null, target: '>= 200 incidents/s' },
    { measure: `${BURST} approvals POSTed at once -> ResourcesAllocated in SQL, p99`, value: round(percentile(approvalLatencies, 99)), unit: 'ms', baseline: null, baselineName: null, ratio: null, target: '<= 200 ms' },
  );
} finally {
  await runtime?.stop().catch(() => undefined);
  await floor?.stop().catch(() => undefined);
  await publisher?.endAsync().catch(() => undefined);
  await sink.close();
  await mosquitto.dispose();
  await nats.dispose();
  rmSync(dataDir, { recursive: true, force: true });
}
console.log(JSON.stringify({ bench: 'latency', machine: { cpu: cpus()[0]?.model, cores: cpus().length, node: process.version }, rows }));
