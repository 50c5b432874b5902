// One chaos run (`npm run chaos`, and a smaller one in `npm test`): the production topology as
// processes (three NATS nodes with NATS_REPLICAS, a persistent Mosquitto, copies of every
// service, PLANTS splitting some), incidents from MQTT devices, approvers following the emailed
// links, technicians completing orders, while copies are SIGKILLed, a NATS node is lost and
// Mosquitto restarts. Then the history and the tables are checked (chaosChecks.ts).
import { EVENTS_STREAM, EVENTS_SUBJECT_PREFIX } from '@mes/contracts';
import { connectNats, createLogger, drainNats, JetStreamEventStore, openSqlSink, parsePlantConfigText, type RecordedEvent, type SqlRow, type SqlSink } from '@mes/platform';
import { CLUSTER_API_TOKEN, REPOSITORY_ROOT, startServiceCluster, type ServiceCluster } from '@mes/platform/testing';
import { LIVE_TABLES } from '@mes/projections';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startApprover } from './approver.js';
import {
  checkAcknowledgedReadings,
  checkNoResourceInTwoOpenOrders,
  checkOneMessageIdPerRequest,
  checkOneOrderPerIncident,
  checkOrdersSettled,
  checkTablesEqualRebuild,
  type CapturedEmail,
  type CheckResult,
} from './chaosChecks.js';
import { startChaosMonkey, type ChaosLog, type ChaosPlan } from './chaosMonkey.js';
import { CHAOS_PLANTS, CHAOS_PLANTS_YAML, chaosPlantsFor } from './chaosPlants.js';
import { startIncidentGenerator, type SentReading } from './incidentGenerator.js';
import { startOrderCompleter } from './orderCompleter.js';

export interface ChaosOptions {
  incidents: number;
  /** Incidents started per second. */
  rate: number;
  /** Copies per service. */
  copies: number;
  natsReplicas: number;
  plan: ChaosPlan;
  /** Longest wait, after the last incident, for the system to settle before the checks. */
  settleTimeoutMs: number;
  /** Where everything is kept (and left) for inspection; a temporary folder, deleted after, unless told. */
  dir?: string;
  /** Progress lines for the person watching. */
  progress?(line: string): void;
}

export interface ChaosFigures {
  incidents: number;
  durationS: number;
  kills: number;
  natsRestarts: number;
  brokerRestarts: number;
  readingsSent: number;
  readingsAcknowledged: number;
  readingsInMesData: number;
  orders: number;
  ordersByStatus: Record<string, number>;
  emails: number;
  approvalRequests: number;
  decisionsRecorded: number;
  linksFailedOver: number;
  linksThrottled: number;
  ordersCompleted: number;
  startRetries: number;
  peakMemoryMiB: Record<string, number>;
}

export interface ChaosReport {
  ok: boolean;
  checks: CheckResult[];
  figures: ChaosFigures;
  chaos: ChaosLog;
  /** The summary for people: figures, checks, peak memory. */
  table: string;
  /**
   * Where the logs, the NATS stores and the SQLite file are: `dir` when it was given; else the
   * temporary folder of a failed run, kept for the post-mortem (one that passed is deleted).
   */
  dir: string | undefined;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const say = options.progress ?? (() => undefined);
  const startedAt = Date.now();
  const cluster = await startServiceCluster({
    plantsYaml: CHAOS_PLANTS_YAML,
    copies: options.copies,
    plantsFor: chaosPlantsFor,
    natsReplicas: options.natsReplicas,
    ...(options.dir === undefined ? {} : { dir: options.dir }),
  });
  let sink: SqlSink | undefined;
  let keep = options.dir !== undefined;
  try {
    say(`NATS ${cluster.nats.url} (NATS_REPLICAS=${options.natsReplicas}), MQTT ${cluster.mosquitto.url}, SMTP ${cluster.smtp.url}; logs in ${join(cluster.dir, 'logs')}`);
    await cluster.startAll();
    say(`${cluster.copies.length} service copies running`);
    sink = await openSqlSink(`sqlite:${cluster.sqlitePath}`);
    const liveSink = sink;

    const approver = startApprover(cluster.smtp, () => cluster.copiesOf('approvals'));
    const completer = startOrderCompleter(liveSink, () => cluster.copiesOf('maintenance'));
    const generator = await startIncidentGenerator({ mqttUrl: cluster.mosquitto.url, incidents: options.incidents, rate: options.rate, runId: randomUUID().slice(0, 6) });
    const monkey = startChaosMonkey(cluster, options.plan);
    const driveStartedAt = Date.now();
    const ticker = setInterval(() => {
      say(`${Math.round((Date.now() - driveStartedAt) / 1000)} s: ${generator.started()} incidents, ${generator.readings.filter((r) => r.acknowledged).length} readings acknowledged, ${cluster.smtp.messages.length} emails, ${monkey.log.kills.length} kills, ${monkey.log.natsRestarts.length} NATS node restarts, ${monkey.log.brokerRestarts.length} broker restarts`);
    }, 10_000);

    try {
      await generator.finish(options.settleTimeoutMs);
      await monkey.done();
    } finally {
      clearInterval(ticker);
      await monkey.stop();
    }
    say('incidents sent and chaos done; waiting for the system to settle');
    const settled = await settle(cluster, liveSink, () => approver.drain(), generator.readings, Date.now() + options.settleTimeoutMs);
    await completer.stop();
    await waitForQuiet(cluster, liveSink, Date.now() + options.settleTimeoutMs);
    await approver.stop();
    await generator.close();
    say(settled ? 'settled; checking' : 'did not settle in time; checking what there is');

    const plants = parsePlantConfigText(CHAOS_PLANTS_YAML, 'chaos plants');
    const events = await readHistory(cluster);
    const live = await dumpTables(liveSink);
    const rebuilt = await rebuildInto(cluster, join(cluster.dir, 'rebuild.sqlite'));
    const emails: CapturedEmail[] = cluster.smtp.messages.map((mail) => ({
      approvalId: /\/approvals\/([^/?\s]+)\/(?:approve|reject)/.exec(mail.text ?? '')?.[1] ?? `(no link in "${mail.subject ?? ''}")`,
      messageId: mail.messageId,
    }));

    const readingsCheck = checkAcknowledgedReadings(generator.readings, live.MESData ?? []);
    const ordersCheck = checkOneOrderPerIncident(events.flat(), plants);
    const mailCheck = checkOneMessageIdPerRequest(emails);
    const settledCheck = checkOrdersSettled(live.MaintenanceOrders ?? []);
    const crashes = cluster.copies.flatMap((copy) => copy.crashes.map((crash) => `${copy.name} ${crash.how} at ${crash.at}: ${crash.lastOutput.trim().split('\n').slice(-2).join(' | ')}`));
    const checks: CheckResult[] = [
      readingsCheck,
      ordersCheck,
      mailCheck,
      ...events.map((plantEvents, i) => ({ ...checkNoResourceInTwoOpenOrders(plantEvents), name: `no resource of ${CHAOS_PLANTS[i]} belonged to two open orders at once` })),
      checkTablesEqualRebuild(live, rebuilt),
      settledCheck,
      { name: 'no copy exited on its own', ok: crashes.length === 0, detail: crashes.length === 0 ? `${cluster.copies.reduce((n, c) => n + c.starts, 0)} starts` : crashes.slice(0, 5).join('; ') },
      {
        name: 'every approval email was followed',
        ok: approver.stats.abandoned.length === 0 && approver.stats.emails === emails.length,
        detail:
          approver.stats.abandoned.length > 0
            ? approver.stats.abandoned.slice(0, 5).map((a) => `${a.orderId}: ${a.error}`).join('; ')
            : `${approver.stats.emails} of ${emails.length} emails followed, ${approver.stats.recorded} decisions recorded, ${approver.stats.alreadyDecided} already decided or withdrawn`,
      },
    ];
    const figures: ChaosFigures = {
      incidents: generator.started(),
      durationS: Math.round((Date.now() - startedAt) / 1000),
      kills: monkey.log.kills.length,
      natsRestarts: monkey.log.natsRestarts.length,
      brokerRestarts: monkey.log.brokerRestarts.length,
      readingsSent: generator.readings.length,
      readingsAcknowledged: generator.readings.filter((r) => r.acknowledged).length,
      readingsInMesData: readingsCheck.inMesData,
      orders: ordersCheck.orders,
      ordersByStatus: settledCheck.byStatus,
      emails: emails.length,
      approvalRequests: mailCheck.requests,
      decisionsRecorded: approver.stats.recorded,
      linksFailedOver: approver.stats.failedOver,
      linksThrottled: approver.stats.throttled,
      ordersCompleted: completer.stats.completed,
      startRetries: monkey.log.startRetries.length,
      peakMemoryMiB: cluster.peakMemory(),
    };
    const ok = checks.every((check) => check.ok);
    keep ||= !ok;
    return { ok, checks, figures, chaos: monkey.log, table: summaryTable(figures, checks, options), dir: keep ? cluster.dir : undefined };
  } finally {
    await sink?.close();
    if (keep) await cluster.stop();
    else await cluster.dispose();
  }
}

/**
 * Waits until every acknowledged reading is in MESData, every acknowledged fault has its order (the
 * orders can trail MESData by a while: a plant's workflow copy may be down), every email was
 * followed and no order waits for its decision.
 */
async function settle(cluster: ServiceCluster, sink: SqlSink, drainApprover: () => Promise<void>, readings: readonly SentReading[], deadline: number): Promise<boolean> {
  const acknowledged = readings.filter((r) => r.acknowledged).length;
  const faults = readings.filter((r) => r.acknowledged && r.machineStatus === 'Fault').length;
  while (Date.now() < deadline) {
    await drainApprover();
    const [mesData, orders] = await Promise.all([sink.select(LIVE_TABLES.MESData).catch(() => []), sink.select(LIVE_TABLES.MaintenanceOrders).catch(() => [])]);
    const undecided = orders.filter((order) => order.Status === 'PendingApproval' || order.Status === 'Approved').length;
    if (mesData.length >= acknowledged && orders.length >= faults && undecided === 0 && cluster.smtp.messages.length >= orders.length) return true;
    await sleep(1_000);
  }
  return false;
}

/** Waits until every projections copy has applied the whole log and the order table stopped changing. */
async function waitForQuiet(cluster: ServiceCluster, sink: SqlSink, deadline: number): Promise<void> {
  let previous = '';
  while (Date.now() < deadline) {
    const statuses = await Promise.all(
      cluster.copiesOf('projections').filter((copy) => copy.running()).map(async (copy) => {
        const response = await fetch(`${copy.httpUrl}/api/projections/status`, { headers: { authorization: `Bearer ${CLUSTER_API_TOKEN}` } }).catch(() => undefined);
        if (response?.status !== 200) return false;
        const body = (await response.json()) as { sources: { upToDate: boolean | null }[] };
        return body.sources.every((source) => source.upToDate === true);
      }),
    );
    const orders = JSON.stringify(await sink.select(LIVE_TABLES.MaintenanceOrders, { orderBy: ['OrderID'] }).catch(() => []), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    if (statuses.length > 0 && statuses.every(Boolean) && orders === previous) return;
    previous = orders;
    await sleep(1_000);
  }
}

/** Every plant's events in log order, read through the event-store port. */
async function readHistory(cluster: ServiceCluster): Promise<RecordedEvent[][]> {
  const logger = createLogger({ service: 'chaos', level: 'silent' });
  const nc = await connectNats({ url: cluster.nats.url, name: 'chaos-checks', logger });
  const store = new JetStreamEventStore({ nc, stream: EVENTS_STREAM, subjectPrefix: EVENTS_SUBJECT_PREFIX });
  try {
    const perPlant: RecordedEvent[][] = [];
    for (const plantId of CHAOS_PLANTS) {
      const events: RecordedEvent[] = [];
      for await (const event of store.readAll({ plantId })) events.push(event);
      perPlant.push(events);
    }
    return perPlant;
  } finally {
    await store.close();
    await drainNats(nc);
  }
}

async function dumpTables(sink: SqlSink): Promise<Record<string, SqlRow[]>> {
  const tables: Record<string, SqlRow[]> = {};
  for (const [name, table] of Object.entries(LIVE_TABLES)) tables[name] = await sink.select(table, { orderBy: table.primaryKey });
  return tables;
}

/** `mes projections rebuild` into another SQLite file, as an operator would run it; then its tables. */
async function rebuildInto(cluster: ServiceCluster, path: string): Promise<Record<string, SqlRow[]>> {
  const cli = join(REPOSITORY_ROOT, 'cli', 'bin', 'mes.js');
  const env = { PATH: process.env.PATH, ...cluster.env, SQL_URL: `sqlite:${path}`, LOG_LEVEL: 'warn' };
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, [cli, 'projections', 'rebuild'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => void (text += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => void (text += chunk.toString()));
    child.once('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`mes projections rebuild exited with ${String(code)}:\n${text}`))));
  });
  if (!/rebuild: done/.test(output)) throw new Error(`mes projections rebuild did not finish:\n${output}`);
  const rebuilt = await openSqlSink(`sqlite:${path}`);
  try {
    return await dumpTables(rebuilt);
  } finally {
    await rebuilt.close();
  }
}

function summaryTable(figures: ChaosFigures, checks: readonly CheckResult[], options: ChaosOptions): string {
  const statusText = Object.entries(figures.ordersByStatus).map(([status, n]) => `${status} ${n}`).join(', ');
  const rows: [string, string][] = [
    ['incidents', String(figures.incidents)],
    ['service copies killed (SIGKILL)', String(figures.kills)],
    ['NATS node restarts (kill -9, then back)', String(figures.natsRestarts)],
    ['MQTT broker restarts', String(figures.brokerRestarts)],
    ['readings sent / acknowledged / in MESData', `${figures.readingsSent} / ${figures.readingsAcknowledged} / ${figures.readingsInMesData}`],
    ['orders', `${figures.orders} (${statusText})`],
    ['orders completed by the technicians', String(figures.ordersCompleted)],
    ['emails / approval requests / decisions recorded', `${figures.emails} / ${figures.approvalRequests} / ${figures.decisionsRecorded}`],
    ['links served by another approvals copy', String(figures.linksFailedOver)],
    ['link requests throttled (429, sent again)', String(figures.linksThrottled)],
    ['copy starts retried', String(figures.startRetries)],
    ['duration', `${figures.durationS} s`],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  const lines = [
    `chaos run: ${options.copies} copies per service, NATS_REPLICAS=${options.natsReplicas}, ${options.rate} incidents/s`,
    ...rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`),
    'checks:',
    ...checks.map((check) => `  ${check.ok ? 'PASS' : 'FAIL'}  ${check.name}: ${check.detail}`),
    'peak memory (RSS, MiB):',
    ...Object.entries(figures.peakMemoryMiB).sort(([a], [b]) => a.localeCompare(b)).map(([name, mib]) => `  ${name.padEnd(16)} ${String(mib).padStart(5)}`),
  ];
  return lines.join('\n');
}
