// The telemetry fuzz run: ingest in a process of its own (services/ingest/dist/main.js) against the
// given nats-server and MQTT broker, the fuzzer's messages published over MQTT (QoS 1), then the
// count: every message the broker accepted on a topic under ingest's filter must end up stored
// (MES_TELEMETRY) or dead-lettered (MES_DEAD_LETTERS), ingest must still take a valid reading at
// the end, and its memory (RSS, sampled throughout) must stay bounded, also while it answers
// GET /api/dead-letters?limit=10000.
// One file on purpose (over 300 lines): the run and each of its checks in order.
import { DEAD_LETTERS_STREAM, TELEMETRY_STREAM, telemetrySubject } from '@mes/contracts';
import { freePort, startServiceProcess } from '@mes/platform/testing';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import mqtt, { type MqttClient } from 'mqtt';
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { brokerMayRefuse, FUZZ_PLANTS, FUZZ_PLANTS_YAML, fuzzMessages, underIngestFilter, type FuzzMessage } from './telemetryCases.js';

const INGEST_MAIN = fileURLToPath(new URL('../../services/ingest/dist/main.js', import.meta.url));
const API_TOKEN = 'fuzz-api-token-0123456789abcdef';
/** Messages published but not yet stored or dead-lettered before the fuzzer waits for ingest. */
const MAX_LAG = 5_000;
/** Publishes awaiting the broker's PUBACK on the main connection. */
const PUBLISH_WINDOW = 500;
/** No progress in ingest's counts for this long ends the wait (and the run fails with the counts). */
const STALL_MS = 30_000;
const MB = 1024 * 1024;

/**
 * What the run must stay within. RSS: ingest grows its heap while it works (about 100 -> 330 MB
 * over 100k messages here; under --max-old-space-size=64 it stays near 150 MB, so that is heap
 * V8 keeps, not a leak); 400 MB more than at the start means something holds on to messages. The
 * dead-letter read: one response at most about 4 MiB of letters, however many are asked for.
 */
export const FUZZ_LIMITS = { maxRssGrowthMb: 400, maxResponseBytes: 5 * MB };

export interface FuzzOptions {
  count: number;
  seed: number;
  natsUrl: string;
  mqttUrl: string;
  /** Holds the plant configuration and ingest's DATA_DIR. */
  workDir: string;
  /** Progress lines (default: none). */
  print?: (line: string) => void;
  progressEvery?: number;
  /** More environment for ingest's process, e.g. NODE_OPTIONS=--max-old-space-size=96. */
  ingestEnv?: NodeJS.ProcessEnv;
}

export interface FuzzReport {
  count: number;
  seed: number;
  /** Refused before sending: an empty topic or one over 65,535 bytes (MQTT cannot carry them). */
  refusedByClient: number;
  /** Refused by the broker, which closes the connection (wildcards, control characters, …). */
  refusedByBroker: number;
  /** Accepted by the broker on topics outside `mes/+/+/telemetry`: nobody subscribes to them. */
  notRouted: number;
  /** Accepted by the broker under ingest's filter: each must be stored or dead-lettered. */
  expected: number;
  stored: number;
  deadLettered: number;
  /** The valid reading sent after all the others was stored. */
  finalReadingStored: boolean;
  /** Ingest was still running at the end (before the fuzzer stopped it). */
  ingestRunning: boolean;
  ingestExit: string;
  /** The end of what ingest printed, when it stopped by itself. */
  ingestOutput: string;
  rssMb: { start: number; max: number; end: number; afterDeadLetterRead: number };
  deadLetterRead: { status: number; bytes: number; count: number; truncated: boolean; error?: string };
  publishMs: number;
  elapsedMs: number;
  bytesSent: number;
  byLabel: Record<string, number>;
  /** The commonest reasons among the dead letters of that one read, numbers and quotes folded. */
  topReasons: [string, number][];
}

/** Resident memory of a process in bytes (/proc where there is one, else ps); 0 once it is gone. */
export function residentBytes(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    if (match) return Number(match[1]) * 1024;
  } catch {
    // No /proc (macOS), or the process is gone: ask ps.
  }
  try {
    return Number(execFileSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()) * 1024;
  } catch {
    return 0;
  }
}

async function streamMessages(jsm: JetStreamManager, stream: string): Promise<number> {
  return (await jsm.streams.info(stream).catch(() => undefined))?.state.messages ?? 0;
}

/** Publishes on a connection of its own a message whose topic the broker may refuse; true if it took it. */
async function publishSuspect(mqttUrl: string, message: FuzzMessage): Promise<boolean> {
  const client = await mqtt.connectAsync(mqttUrl, { reconnectPeriod: 0, protocolVersion: 4, clean: true }, false);
  try {
    return await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 5_000);
      client.once('close', () => {
        clearTimeout(timer);
        resolve(false);
      });
      client.on('error', () => undefined);
      client.publish(message.topic, message.payload, { qos: 1 }, (err) => {
        clearTimeout(timer);
        resolve(err === undefined || err === null);
      });
    });
  } finally {
    client.end(true);
  }
}

function reasonClass(reason: string): string {
  return reason
    .replace(/"(?:[^"\\]|\\.)*"…?"?(?: \(\d+ characters\))?/g, '"…"')
    .replace(/\d+(\.\d+)?/g, 'N')
    .slice(0, 90);
}

export async function runIngestFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const print = options.print ?? (() => undefined);
  const progressEvery = options.progressEvery ?? 10_000;
  const started = performance.now();
  if (!existsSync(INGEST_MAIN)) throw new Error(`${INGEST_MAIN} does not exist: build the project first (npm run build)`);
  const configPath = join(options.workDir, 'plants.yaml');
  await writeFile(configPath, FUZZ_PLANTS_YAML);
  const httpPort = await freePort();
  const ingest: ChildProcess = await startServiceProcess(INGEST_MAIN, {
    NATS_URL: options.natsUrl,
    MQTT_URL: options.mqttUrl,
    MES_CONFIG: configPath,
    DATA_DIR: options.workDir,
    HTTP_PORT: String(httpPort),
    HTTP_HOST: '127.0.0.1',
    API_TOKEN,
    APPROVAL_SECRET: 'fuzz-approval-secret-0123456789abcdef0123',
    MQTT_CLIENT_ID: `fuzz-ingest-${process.pid}`,
    LOG_LEVEL: 'warn',
    ...options.ingestEnv,
  });
  let ingestExit = 'running';
  ingest.once('exit', (code, signal) => (ingestExit = signal ?? `code ${String(code)}`));
  let ingestOutput = '';
  const keepOutput = (chunk: Buffer) => void (ingestOutput = (ingestOutput + chunk.toString()).slice(-4_000));
  ingest.stdout?.on('data', keepOutput);
  ingest.stderr?.on('data', keepOutput);
  const pid = ingest.pid!;
  const rss = { start: residentBytes(pid), max: 0, end: 0, afterDeadLetterRead: 0 };
  rss.max = rss.start;
  const sampler = setInterval(() => {
    if (ingestExit === 'running') rss.max = Math.max(rss.max, residentBytes(pid));
  }, 100);

  const nc = await connect({ servers: options.natsUrl });
  const jsm = await jetstreamManager(nc);
  const processed = async () => (await streamMessages(jsm, TELEMETRY_STREAM)) + (await streamMessages(jsm, DEAD_LETTERS_STREAM));
  const main: MqttClient = await mqtt.connectAsync(options.mqttUrl, { clientId: `fuzz-publisher-${process.pid}`, protocolVersion: 4, clean: true, reconnectPeriod: 0 }, false);
  let mainClosed = false;
  main.on('close', () => (mainClosed = true));
  main.on('error', () => undefined);

  const report: FuzzReport = {
    count: options.count,
    seed: options.seed,
    refusedByClient: 0,
    refusedByBroker: 0,
    notRouted: 0,
    expected: 0,
    stored: 0,
    deadLettered: 0,
    finalReadingStored: false,
    ingestRunning: false,
    ingestExit: '',
    ingestOutput: '',
    rssMb: { start: 0, max: 0, end: 0, afterDeadLetterRead: 0 },
    deadLetterRead: { status: 0, bytes: 0, count: 0, truncated: false },
    publishMs: 0,
    elapsedMs: 0,
    bytesSent: 0,
    byLabel: {},
    topReasons: [],
  };

  try {
    let inFlight = 0;
    let windowFreed: (() => void) | undefined;
    const accepted = (message: FuzzMessage) => {
      if (underIngestFilter(message.topic)) report.expected++;
      else report.notRouted++;
    };
    const publishStarted = performance.now();
    let sent = 0;
    for (const message of fuzzMessages(options.count, options.seed)) {
      sent++;
      report.byLabel[message.label] = (report.byLabel[message.label] ?? 0) + 1;
      report.bytesSent += message.payload.byteLength;
      if (message.topic.length === 0 || Buffer.byteLength(message.topic) > 65_535) {
        report.refusedByClient++;
      } else if (brokerMayRefuse(message.topic)) {
        if (await publishSuspect(options.mqttUrl, message)) accepted(message);
        else report.refusedByBroker++;
      } else {
        if (mainClosed) throw new Error(`the broker closed the fuzzer's connection; the last topic sent was ${JSON.stringify(message.topic)}`);
        while (inFlight >= PUBLISH_WINDOW) await new Promise<void>((resolve) => (windowFreed = resolve));
        inFlight++;
        main.publish(message.topic, message.payload, { qos: 1 }, (err) => {
          inFlight--;
          if (err) report.refusedByBroker++;
          else accepted(message);
          windowFreed?.();
          windowFreed = undefined;
        });
      }
      if (sent % 1000 === 0) {
        // Keep ingest's backlog bounded, so the broker's queue for it stays small.
        while (report.expected - (await processed()) > MAX_LAG) await sleep(50);
      }
      if (sent % progressEvery === 0) {
        print(`fuzz: sent ${sent.toLocaleString('en-US')}, ingest processed ${(await processed()).toLocaleString('en-US')}, RSS ${(residentBytes(pid) / MB).toFixed(0)} MB`);
      }
    }
    while (inFlight > 0) await new Promise<void>((resolve) => (windowFreed = resolve));
    report.publishMs = performance.now() - publishStarted;

    // Wait until ingest has handled everything, or has stopped making progress.
    let last = -1;
    let lastChange = performance.now();
    for (;;) {
      const now = await processed();
      if (now >= report.expected) break;
      if (now !== last) {
        last = now;
        lastChange = performance.now();
      } else if (performance.now() - lastChange > STALL_MS) break;
      await sleep(100);
    }
    report.stored = await streamMessages(jsm, TELEMETRY_STREAM);
    report.deadLettered = await streamMessages(jsm, DEAD_LETTERS_STREAM);

    // Still taking readings?
    const finalMachine = `FINAL-${options.seed}`;
    await main.publishAsync(`mes/${FUZZ_PLANTS[0]}/${finalMachine}/telemetry`, JSON.stringify({ machineStatus: 'Running', qualityTrend: 'Stable', productionTarget: 100, productionActual: 99, messageId: 'final' }), { qos: 1 });
    const deadline = performance.now() + STALL_MS;
    while (!report.finalReadingStored && performance.now() < deadline) {
      const info = await jsm.streams.info(TELEMETRY_STREAM, { subjects_filter: telemetrySubject(FUZZ_PLANTS[0], finalMachine) });
      report.finalReadingStored = Object.keys(info.state.subjects ?? {}).length > 0;
      if (!report.finalReadingStored) await sleep(50);
    }
    rss.end = residentBytes(pid);

    // The read that once took ingest to 751 MB.
    try {
      const response = await fetch(`http://127.0.0.1:${httpPort}/api/dead-letters?limit=10000`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
      const body = Buffer.from(await response.arrayBuffer());
      report.deadLetterRead.status = response.status;
      report.deadLetterRead.bytes = body.byteLength;
      if (response.status === 200) {
        const page = JSON.parse(body.toString('utf8')) as { count: number; truncated?: boolean; deadLetters: { reason: string }[] };
        report.deadLetterRead.count = page.count;
        report.deadLetterRead.truncated = page.truncated === true;
        const reasons = new Map<string, number>();
        for (const letter of page.deadLetters) reasons.set(reasonClass(letter.reason), (reasons.get(reasonClass(letter.reason)) ?? 0) + 1);
        report.topReasons = [...reasons.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8);
      } else {
        report.deadLetterRead.error = `${body.toString('utf8').slice(0, 500)}; ingest's last output:\n${ingestOutput.slice(-2_000)}`;
      }
    } catch (err) {
      report.deadLetterRead.error = (err as Error).message;
    }
    rss.afterDeadLetterRead = residentBytes(pid);
    report.ingestRunning = ingestExit === 'running';
  } finally {
    clearInterval(sampler);
    main.end(true);
    await nc.close();
    if (ingestExit === 'running') {
      const exited = new Promise<void>((resolve) => ingest.once('exit', () => resolve()));
      ingest.kill('SIGTERM');
      await exited;
    }
    report.ingestExit = ingestExit;
    if (!report.ingestRunning) report.ingestOutput = ingestOutput;
    report.rssMb = { start: rss.start / MB, max: Math.max(rss.max, rss.end, rss.afterDeadLetterRead) / MB, end: rss.end / MB, afterDeadLetterRead: rss.afterDeadLetterRead / MB };
    report.elapsedMs = performance.now() - started;
  }
  return report;
}

/** What the run broke, in words; empty when every promise held. */
export function fuzzViolations(report: FuzzReport, limits: { maxRssGrowthMb: number; maxResponseBytes: number }): string[] {
  const problems: string[] = [];
  if (report.stored + report.deadLettered !== report.expected) {
    problems.push(
      `${report.expected} messages reached the broker under mes/+/+/telemetry, but ${report.stored} were stored and ${report.deadLettered} dead-lettered ` +
        `(${report.stored + report.deadLettered - report.expected > 0 ? 'more' : 'fewer'} than sent)`,
    );
  }
  if (!report.ingestRunning) problems.push(`ingest stopped during the run (${report.ingestExit})`);
  if (!report.finalReadingStored) problems.push('the valid reading sent at the end was not stored');
  if (report.rssMb.max - report.rssMb.start > limits.maxRssGrowthMb) {
    problems.push(`ingest's RSS grew from ${report.rssMb.start.toFixed(0)} MB to ${report.rssMb.max.toFixed(0)} MB (more than ${limits.maxRssGrowthMb} MB)`);
  }
  if (report.deadLetterRead.status !== 200) problems.push(`GET /api/dead-letters?limit=10000 answered ${report.deadLetterRead.status}`);
  if (report.deadLetterRead.bytes > limits.maxResponseBytes) {
    problems.push(`GET /api/dead-letters?limit=10000 sent ${report.deadLetterRead.bytes} bytes (more than ${limits.maxResponseBytes})`);
  }
  return problems;
}

export function formatFuzzReport(report: FuzzReport): string {
  const n = (value: number) => value.toLocaleString('en-US');
  const lines = [
    `fuzz: ${n(report.count)} messages (seed ${report.seed}, ${(report.bytesSent / MB).toFixed(1)} MB of payload) in ${(report.elapsedMs / 1000).toFixed(1)} s (published in ${(report.publishMs / 1000).toFixed(1)} s)`,
    `  broker accepted under mes/+/+/telemetry: ${n(report.expected)} = stored ${n(report.stored)} + dead-lettered ${n(report.deadLettered)}${report.stored + report.deadLettered === report.expected ? '' : '  MISMATCH'}`,
    `  not sent: ${n(report.refusedByClient)} refused by the MQTT client (empty or over 65,535 bytes), ${n(report.refusedByBroker)} refused by the broker (wildcards, control characters); ` +
      `${n(report.notRouted)} accepted on topics outside the filter (no subscriber)`,
    `  ingest: ${report.ingestRunning ? 'still running' : `stopped (${report.ingestExit}); its last output:\n${report.ingestOutput}\n `}, final valid reading ${report.finalReadingStored ? 'stored' : 'NOT stored'}`,
    `  ingest RSS: start ${report.rssMb.start.toFixed(0)} MB, max ${report.rssMb.max.toFixed(0)} MB, end ${report.rssMb.end.toFixed(0)} MB, after GET /api/dead-letters?limit=10000 ${report.rssMb.afterDeadLetterRead.toFixed(0)} MB`,
    `  GET /api/dead-letters?limit=10000: ${report.deadLetterRead.status}, ${(report.deadLetterRead.bytes / MB).toFixed(2)} MB, ${n(report.deadLetterRead.count)} dead letters${report.deadLetterRead.truncated ? ' (truncated: more with nextBefore)' : ''}${report.deadLetterRead.error === undefined ? '' : `: ${report.deadLetterRead.error}`}`,
    `  sent by kind: ${Object.entries(report.byLabel).sort((a, b) => b[1] - a[1]).map(([label, count]) => `${label} ${n(count)}`).join(', ')}`,
    `  commonest reasons in that page: ${report.topReasons.map(([reason, count]) => `${count}× ${reason}`).join(' | ')}`,
  ];
  return lines.join('\n');
}
