// The `mes` command (CONTRACT §5): `mes audit order <OrderID>` (`--format csv|jsonl|html`: an
// export for auditors), `mes audit machine <MachineID>` (`--json`: one JSON object per line),
// `mes config reload|history` (versioned plant configuration, CONTRACT §3), `mes projections
// rebuild`, `mes dead-letters` (the rejected telemetry of CONTRACT §1, newest first), `mes approvers
// enrol` (approversEnrol.ts) and `mes simulate` (an edge simulator). It reads the same environment as the services (NATS_URL,
// MQTT_URL, EVENTSTORE_URL, SQL_URL, MES_CONFIG, PLANTS), and MES_OPERATOR. Exit codes: 0 done, 1
// error (with one clear message), 2 wrong usage.
// One file on purpose (about 400 lines): every command's parsing and wording together.
import {
  ConfigError,
  connectNats,
  createLogger,
  drainNats,
  EventLogNotFoundError,
  loadConfig,
  loadPlantConfigFile,
  openEventStore,
  OrderIndex,
  verifyChains,
  openSqlSink,
  PlantConfigError,
  withoutCredentials,
  type Config,
} from '@mes/platform';
import type { PlantsConfig } from '@mes/contracts';
import { randomInt } from 'node:crypto';
import type { Writable } from 'node:stream';
import { readDeadLetters, type StoredDeadLetter } from '@mes/ingest';
import {
  AUDIT_FORMATS,
  auditMachine,
  auditOrder,
  auditPlantConfigs,
  AuditSubjectNotFoundError,
  exportOrderAudit,
  formatAuditLine,
  rebuildDeps,
  rebuildReportingTables,
  type AuditEntry,
  type AuditFileFormat,
  type RebuildProgress,
} from '@mes/projections';
import { APPROVERS_USAGE, enrolApprover, parseApproversArgs, type ApproversCommand } from './approversEnrol.js';
import { operatorOf, reloadPlantConfig } from './config/configCommands.js';
import { simulatedMachineIds } from './simulate/plantSimulation.js';
import { formatSimulationSummary, MqttUnreachableError, runSimulation } from './simulate/runSimulation.js';
import { parseSimulateArgs, SIMULATE_USAGE, type SimulateArgs } from './simulate/simulateArgs.js';

export const USAGE = `Usage:
  mes audit order <OrderID> [--json | --format csv|jsonl|html]
                                          history of a maintenance order, oldest first; --format
                                          prints an export for auditors (html: a printable record)
  mes audit machine <MachineID> [--json]  condition changes and orders of a machine, oldest first
  mes audit verify [--plant P] [--order MO_...]
                                          recompute the hash chains of the event log: exit 0 when
                                          every chain holds, 1 naming the first break
  mes config reload                       validate MES_CONFIG and record each changed plant's
                                          configuration as a new version (who: MES_OPERATOR, else
                                          the OS user); incidents that start afterwards use it
  mes config history [--plant P1] [--json]
                                          the recorded configuration versions, oldest first
  mes projections rebuild [--batch-size N]
                                          drop and rebuild the SQL reporting tables from the event log
  mes dead-letters [--plant P1] [--limit N] [--json]
                                          rejected telemetry, newest first (default 50)
${APPROVERS_USAGE}
${SIMULATE_USAGE}
  mes help

--json prints one JSON object per line. Settings come from the environment: NATS_URL,
MQTT_URL, EVENTSTORE_URL, SQL_URL, MES_CONFIG, PLANTS (see README "Configuration"), and
MES_OPERATOR (who runs mes config reload, and who exported an audit).

mes simulate: --plant defaults to the first plant of MES_CONFIG; --machines to the plant's
machines: list, or 5 (M-1 to M-5); --rate is readings per second for the whole plant (default 2,
the machines take turns); --faults is faults per minute across the plant (default 1, the first
one early; 0 for none); --duration an ISO-8601 duration (default PT1M); --seed repeats a run.
Ctrl-C stops early and prints the summary.`;

export type CliCommand =
  | { kind: 'help' }
  | { kind: 'auditOrder'; orderId: string; json: boolean; format?: AuditFileFormat }
  | { kind: 'auditMachine'; machineId: string; json: boolean }
  | { kind: 'configReload' }
  | { kind: 'configHistory'; plantId: string | undefined; json: boolean }
  | { kind: 'rebuild'; batchSize: number | undefined }
  | { kind: 'deadLetters'; plantId: string | undefined; limit: number; json: boolean }
  | { kind: 'simulate'; args: SimulateArgs }
  | { kind: 'verify'; plantId: string | undefined; orderId: string | undefined }
  | ApproversCommand;

/** Options that take a value (the next argument). */
const VALUE_OPTIONS = ['--batch-size', '--plant', '--limit', '--format'];
const FILE_FORMATS = AUDIT_FORMATS.filter((format): format is AuditFileFormat => format !== 'json');

export type ParsedArgs = CliCommand | { kind: 'usage'; error: string };

/** `mes audit verify [--plant P] [--order MO_...]`. */
function parseVerifyArgs(args: readonly string[]): ParsedArgs {
  let plantId: string | undefined;
  let orderId: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const value = args[i + 1];
    if (arg === '--plant' || arg === '--order') {
      if (value === undefined || value.startsWith('-')) return { kind: 'usage', error: `${arg} takes ${arg === '--plant' ? 'a plant id' : 'an OrderID'}` };
      if (arg === '--plant') plantId = value;
      else orderId = value;
      i++;
    } else return { kind: 'usage', error: `${arg.startsWith('-') ? 'unknown option' : 'unexpected argument'} ${arg} for mes audit verify` };
  }
  return { kind: 'verify', plantId, orderId };
}

export function parseCliArgs(argv: readonly string[]): ParsedArgs {
  if (argv[0] === 'simulate') return parseSimulateArgs(argv.slice(1));
  if (argv[0] === 'approvers') return parseApproversArgs(argv.slice(1));
  const flags = argv.filter((arg) => arg.startsWith('-'));
  const words = argv.filter((arg, index) => !arg.startsWith('-') && !(index > 0 && VALUE_OPTIONS.includes(argv[index - 1]!)));
  if (words.length === 0 || words[0] === 'help' || flags.includes('--help') || flags.includes('-h')) {
    return words.length === 0 && flags.length === 0 ? { kind: 'usage', error: 'no command given' } : { kind: 'help' };
  }
  const [group, action, subject, ...rest] = words;
  if (group === 'audit' && action === 'verify') return parseVerifyArgs(argv.slice(2));
  if (group === 'audit') {
    const unknown = flags.filter((flag) => flag !== '--json' && flag !== '--format');
    if (unknown.length > 0) return { kind: 'usage', error: `unknown option ${unknown[0]} for mes audit` };
    if (action !== 'order' && action !== 'machine') return { kind: 'usage', error: `mes audit takes order, machine or verify${action === undefined ? '' : ` (got "${action}")`}` };
    if (subject === undefined) return { kind: 'usage', error: `mes audit ${action} needs the ${action === 'order' ? 'OrderID' : 'MachineID'}` };
    if (rest.length > 0) return { kind: 'usage', error: `unexpected argument "${rest[0]}"` };
    const json = flags.includes('--json');
    if (action === 'machine') {
      return flags.includes('--format') ? { kind: 'usage', error: '--format is for mes audit order' } : { kind: 'auditMachine', machineId: subject, json };
    }
    if (!flags.includes('--format')) return { kind: 'auditOrder', orderId: subject, json };
    const format = argv[argv.indexOf('--format') + 1];
    if (!FILE_FORMATS.some((known) => known === format)) return { kind: 'usage', error: `--format takes ${FILE_FORMATS.join(', ')}${format === undefined ? '' : ` (got "${format}")`}` };
    if (json) return { kind: 'usage', error: '--json and --format do not go together (--format jsonl is one JSON object per line too)' };
    return { kind: 'auditOrder', orderId: subject, json, format: format as AuditFileFormat };
  }
  if (group === 'config') {
    if (action !== 'reload' && action !== 'history') return { kind: 'usage', error: `mes config takes reload or history${action === undefined ? '' : ` (got "${action}")`}` };
    if (subject !== undefined) return { kind: 'usage', error: `unexpected argument "${subject}"` };
    if (action === 'reload') return flags.length > 0 ? { kind: 'usage', error: `unknown option ${flags[0]} for mes config reload` } : { kind: 'configReload' };
    let plantId: string | undefined;
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i]!;
      if (!arg.startsWith('-')) continue;
      if (arg === '--plant') {
        plantId = argv[++i];
        if (plantId === undefined || plantId.startsWith('-')) return { kind: 'usage', error: '--plant takes a plant id' };
      } else if (arg !== '--json') return { kind: 'usage', error: `unknown option ${arg} for mes config history` };
    }
    return { kind: 'configHistory', plantId, json: flags.includes('--json') };
  }
  if (group === 'projections') {
    if (action !== 'rebuild') return { kind: 'usage', error: `mes projections takes rebuild${action === undefined ? '' : ` (got "${action}")`}` };
    if (subject !== undefined) return { kind: 'usage', error: `unexpected argument "${subject}"` };
    let batchSize: number | undefined;
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i]!;
      if (!arg.startsWith('-')) continue;
      if (arg !== '--batch-size') return { kind: 'usage', error: `unknown option ${arg} for mes projections rebuild` };
      const value = argv[i + 1];
      if (value === undefined || !/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 100_000) {
        return { kind: 'usage', error: '--batch-size takes a whole number from 1 to 100000' };
      }
      batchSize = Number(value);
    }
    return { kind: 'rebuild', batchSize };
  }
  if (group === 'dead-letters') {
    if (action !== undefined) return { kind: 'usage', error: `unexpected argument "${action}"` };
    let plantId: string | undefined;
    let limit = 50;
    let json = false;
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i]!;
      if (!arg.startsWith('-')) continue;
      if (arg === '--json') json = true;
      else if (arg === '--plant') {
        plantId = argv[++i];
        if (plantId === undefined || plantId.startsWith('-')) return { kind: 'usage', error: '--plant takes a plant id' };
      } else if (arg === '--limit') {
        const value = argv[++i];
        if (value === undefined || !/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 10_000) return { kind: 'usage', error: '--limit takes a whole number from 1 to 10000' };
        limit = Number(value);
      } else return { kind: 'usage', error: `unknown option ${arg} for mes dead-letters` };
    }
    return { kind: 'deadLetters', plantId, limit, json };
  }
  return { kind: 'usage', error: `unknown command "${group}"` };
}

/** One line per dead letter for a person: when, where, why, and the start of what was sent. */
export function formatDeadLetter(letter: StoredDeadLetter): string {
  const preview = letter.encoding === 'utf8' ? JSON.stringify(letter.payload.length > 80 ? `${letter.payload.slice(0, 80)}…` : letter.payload) : `(${letter.payloadBytes} bytes, not UTF-8)`;
  return `${letter.receivedAt}  ${letter.topic}  ${letter.reason}  payload ${preview}${letter.truncated ? ` (first 64 KiB of ${letter.payloadBytes} bytes)` : ''}`;
}

export interface CliIo {
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  /** Aborted on Ctrl-C: `mes simulate` stops early and prints its summary. */
  signal?: AbortSignal;
}

/** An error the person can act on: printed as `mes: message`, exit code 1. */
class CliError extends Error {}

const line = (stream: Writable, text: string) => void stream.write(`${text}\n`);
const count = (n: number) => n.toLocaleString('en-US');

export function formatProgress(progress: RebuildProgress): string {
  const what = progress.source === 'events' ? 'events' : 'readings';
  const at = progress.position === undefined ? 'none yet' : progress.position.toString();
  const of = progress.end === undefined ? '' : ` of ${progress.end.toString()}`;
  return `rebuild: ${progress.phase} ${what}: ${count(progress.applied)} applied (${count(progress.rate)}/s), position ${at}${of}, ${(progress.elapsedMs / 1000).toFixed(1)} s`;
}

function printEntries(io: CliIo, entries: AuditEntry[], json: boolean): void {
  for (const entry of entries) line(io.stdout, json ? JSON.stringify(entry) : formatAuditLine(entry));
}

async function run(command: Exclude<CliCommand, { kind: 'help' }>, io: CliIo): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(io.env);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message);
    throw err;
  }
  if (command.kind === 'simulate') return simulate(command.args, config, io);
  // The file is checked before anything is connected: an invalid one records nothing.
  const plants = command.kind === 'configReload' ? loadPlants(config) : undefined;
  const logger = createLogger({ service: 'mes', level: 'warn', destination: io.stderr });
  const nc = await connectNats({ url: config.natsUrl, name: 'mes-cli', logger, initialTimeoutMs: 5_000 }).catch((err: unknown) => {
    throw new CliError((err as Error).message);
  });
  try {
    if (command.kind === 'approversEnrol') {
      const lines = await enrolApprover(nc, command).catch((err: unknown) => {
        throw new CliError((err as Error).message);
      });
      for (const text of lines) line(io.stdout, text);
      return;
    }
    if (command.kind === 'deadLetters') {
      // Page by page (each at most a few MiB, however large the letters), printed as it comes.
      let printed = 0;
      let before: number | undefined;
      do {
        const page = await readDeadLetters(nc, {
          limit: command.limit - printed,
          ...(command.plantId === undefined ? {} : { plantId: command.plantId }),
          ...(before === undefined ? {} : { before }),
        }).catch((err: unknown) => {
          throw new CliError(`cannot read the dead letters at ${withoutCredentials(config.natsUrl)} (NATS_URL): ${(err as Error).message}`);
        });
        for (const letter of page.deadLetters) line(io.stdout, command.json ? JSON.stringify(letter) : formatDeadLetter(letter));
        printed += page.deadLetters.length;
        before = page.nextBefore;
      } while (before !== undefined && printed < command.limit);
      if (!command.json && printed === 0) line(io.stdout, `no dead letters${command.plantId === undefined ? '' : ` for plant ${command.plantId}`}`);
      return;
    }
    const events = await openEventStore({ config, nc, logger }).catch((err: unknown) => {
      if (err instanceof EventLogNotFoundError) throw new CliError(err.message);
      throw err;
    });
    try {
      switch (command.kind) {
        case 'auditOrder': {
          if (command.format !== undefined) {
            const file = await exportOrderAudit({ eventStore: events.store, orderIndex: new OrderIndex(nc) }, command.orderId, command.format, { exportedBy: operatorOf(io.env) });
            io.stdout.write(file.body);
            return;
          }
          const audit = await auditOrder({ eventStore: events.store, orderIndex: new OrderIndex(nc) }, command.orderId);
          if (!command.json) line(io.stdout, `Order ${audit.orderId}: machine ${audit.machineId}, plant ${audit.plantId}, workflow ${audit.workflowId}`);
          printEntries(io, audit.entries, command.json);
          return;
        }
        case 'auditMachine': {
          const plants = config.plants ?? Object.keys(loadPlantConfigFile(config.plantConfigPath).plants);
          const audit = await auditMachine({ eventStore: events.store, orderIndex: new OrderIndex(nc) }, command.machineId, plants);
          if (!command.json) {
            line(io.stdout, `Machine ${audit.machineId}: plant ${audit.plants.join(', ')}; orders: ${audit.orders.length === 0 ? 'none' : audit.orders.join(', ')}`);
          }
          printEntries(io, audit.entries, command.json);
          return;
        }
        case 'configReload':
          await reloadPlantConfig({ store: events.store, plants: plants!, config, env: io.env, print: (text) => line(io.stdout, text) });
          return;
        case 'configHistory': {
          const plantIds = command.plantId === undefined ? config.plants ?? Object.keys(loadPlants(config).plants) : [command.plantId];
          const entries = await auditPlantConfigs(events.store, plantIds);
          if (!command.json && entries.length === 0) line(io.stdout, `no configuration version recorded for plant${plantIds.length === 1 ? '' : 's'} ${plantIds.join(', ')}`);
          printEntries(io, entries, command.json);
          return;
        }
        case 'verify': {
          const streams = command.orderId === undefined ? undefined : [...new Set((await auditOrder({ eventStore: events.store, orderIndex: new OrderIndex(nc) }, command.orderId)).entries.map((entry) => entry.stream))];
          const scope = command.orderId !== undefined ? `the streams of order ${command.orderId}` : command.plantId !== undefined ? `plant ${command.plantId}` : 'the whole log';
          io.stderr.write(`verify: recomputing the hash chains of ${scope} in ${events.description}\n`);
          const result = await verifyChains(events.store, {
            ...(streams === undefined ? {} : { streams }),
            ...(command.plantId === undefined ? {} : { plantId: command.plantId }),
            onProgress: (checked) => io.stderr.write(`verify: ${count(checked)} events checked\n`),
          });
          if (result.broken !== undefined) {
            const { stream, position, reason } = result.broken;
            throw new CliError(`chain broken in stream ${stream} at position ${position.toString()}: ${reason} (${count(result.events)} events checked)`);
          }
          line(io.stdout, `verified ${result.events} events in ${result.streams} streams`);
          return;
        }
        case 'rebuild': {
          const sink = await openSqlSink(config.sqlUrl).catch((err: unknown) => {
            throw new CliError(`cannot open the reporting database ${withoutCredentials(config.sqlUrl)} (SQL_URL): ${(err as Error).message}`);
          });
          try {
            line(io.stdout, `rebuild: reporting tables in ${sink.location}, from the event log in ${events.description}`);
            const report = await rebuildReportingTables(rebuildDeps({ sink, eventStore: events.store, nc }), {
              ...(command.batchSize === undefined ? {} : { batchSize: command.batchSize }),
              onProgress: (progress) => line(io.stdout, formatProgress(progress)),
            });
            const seconds = report.elapsedMs / 1000;
            const total = report.events.applied + report.telemetry.applied;
            line(
              io.stdout,
              `rebuild: done in ${seconds.toFixed(1)} s: ${count(report.events.applied)} events (to position ${report.events.position?.toString() ?? 'none'}) and ` +
                `${count(report.telemetry.applied)} readings (to sequence ${report.telemetry.position?.toString() ?? 'none'}), ${count(Math.round(total / Math.max(seconds, 0.001)))}/s; ` +
                `MESData, MaintenanceOrders, Resources and Approvals replaced (swap attempts: ${report.swapAttempts})`,
            );
          } finally {
            await sink.close();
          }
          return;
        }
        default: {
          const _exhaustive: never = command;
          return _exhaustive;
        }
      }
    } finally {
      await events.close();
    }
  } finally {
    await drainNats(nc);
  }
}

/** The plant configuration MES_CONFIG names; an invalid one is an error naming the file, the key path and the reason. */
function loadPlants(config: Config): PlantsConfig {
  try {
    return loadPlantConfigFile(config.plantConfigPath);
  } catch (err) {
    if (err instanceof PlantConfigError) throw new CliError(`${err.message}\nnothing was recorded (MES_CONFIG=${config.plantConfigPath})`);
    throw err;
  }
}

async function simulate(args: SimulateArgs, config: Config, io: CliIo): Promise<void> {
  let plants: Record<string, object>;
  try {
    plants = loadPlantConfigFile(config.plantConfigPath).plants;
  } catch (err) {
    throw new CliError(`${(err as Error).message} (MES_CONFIG)`);
  }
  const plantId = args.plantId ?? Object.keys(plants)[0]!;
  const plant = plants[plantId];
  if (plant === undefined) {
    throw new CliError(`plant ${plantId} is not in ${config.plantConfigPath} (MES_CONFIG); its plants: ${Object.keys(plants).join(', ')}`);
  }
  let machineIds: string[];
  try {
    machineIds = simulatedMachineIds(plantId, plant, args.machines);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  const seed = args.seed ?? randomInt(0, 0x1_0000_0000);
  // Unique per run, so the readings of a second run are not taken for repeats of the first (§1).
  const runId = `sim${Date.now().toString(36)}${randomInt(0, 36 ** 3).toString(36)}`;
  const settings = { plantId, machineIds, readingsPerSecond: args.readingsPerSecond, faultsPerMinute: args.faultsPerMinute, runId, seed };
  const report = await runSimulation({
    mqttUrl: config.mqttUrl,
    settings,
    durationMs: args.durationMs,
    duration: args.duration,
    print: (text) => line(io.stdout, text),
    ...(io.signal === undefined ? {} : { signal: io.signal }),
  }).catch((err: unknown) => {
    throw err instanceof MqttUnreachableError ? new CliError(err.message) : err;
  });
  line(io.stdout, formatSimulationSummary(report, settings));
  const missing = report.sent - report.acknowledged;
  if (missing > 0) {
    throw new CliError(`${missing.toLocaleString('en-US')} of ${report.sent.toLocaleString('en-US')} readings were not acknowledged by the MQTT broker at ${withoutCredentials(config.mqttUrl)} (MQTT_URL)`);
  }
}

/** Runs one `mes` command line; resolves with the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const command = parseCliArgs(argv);
  if (command.kind === 'usage') {
    line(io.stderr, `mes: ${command.error}\n\n${USAGE}`);
    return 2;
  }
  if (command.kind === 'help') {
    line(io.stdout, USAGE);
    return 0;
  }
  try {
    await run(command, io);
    return 0;
  } catch (err) {
    if (err instanceof CliError || err instanceof AuditSubjectNotFoundError) line(io.stderr, `mes: ${err.message}`);
    else line(io.stderr, `mes: ${(err as Error).message ?? String(err)}`);
    return 1;
  }
}
