// The edge of `mes simulate`: paces the plant simulation's readings at the requested rate, publishes
// them to the MQTT broker (QoS 1) and prints progress; the readings themselves come from the pure
// model in plantSimulation.ts.
import { withoutCredentials } from '@mes/platform';
import mqtt, { type MqttClient } from 'mqtt';
import { setTimeout as sleep } from 'node:timers/promises';
import { nextReading, startSimulation, type MachineChange, type SimulationSettings, type SimulationTally } from './plantSimulation.js';

export interface SimulationRun {
  mqttUrl: string;
  settings: SimulationSettings;
  durationMs: number;
  /** The duration as the person wrote it (`PT1M`), for the banner. */
  duration: string;
  /** Each line the simulator prints, without the newline. */
  print: (line: string) => void;
  /** Aborted (Ctrl-C): stop publishing, wait for the broker's acknowledgements, report. */
  signal?: AbortSignal;
  /** Default 5 s. */
  progressEveryMs?: number;
}

export interface SimulationReport {
  sent: number;
  acknowledged: number;
  /** Publishes the client gave up on (connection closed for good); not acknowledged either. */
  failed: number;
  elapsedMs: number;
  stoppedEarly: boolean;
  tally: SimulationTally;
}

/** The broker could not be reached at the start: nothing was sent. */
export class MqttUnreachableError extends Error {
  readonly code = 'MQTT_UNREACHABLE';
}

/** More than this many readings awaiting their acknowledgement pauses publishing (a slow broker). */
const MAX_IN_FLIGHT = 1000;
/** After the last reading, how long to wait for the broker's acknowledgements. */
const ACK_GRACE_MS = 10_000;
const CONNECT_TIMEOUT_MS = 5_000;

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const plural = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;

export function describeChange(change: MachineChange): string {
  switch (change.kind) {
    case 'fault':
      return `${change.machineId} Fault`;
    case 'maintenance':
      return `${change.machineId} Maintenance`;
    case 'recovered':
      return `${change.machineId} Running again after maintenance`;
    case 'quality':
      return `${change.machineId} quality ${change.qualityTrend}`;
    case 'outputDip':
      return `${change.machineId} output at ${Math.round(change.ratio * 100)}% of target`;
    case 'outputRecovered':
      return `${change.machineId} output back on target`;
    default: {
      const _exhaustive: never = change;
      return _exhaustive;
    }
  }
}

export function describeMachines(machineIds: readonly string[]): string {
  return machineIds.length <= 6 ? machineIds.join(', ') : `${machineIds.slice(0, 3).join(', ')}, … ${machineIds.at(-1)!}`;
}

async function connect(mqttUrl: string, clientId: string): Promise<MqttClient> {
  try {
    // No retries while connecting: an unreachable broker is reported at once. Once connected, the
    // client reconnects by itself and re-sends what the broker had not acknowledged.
    return await mqtt.connectAsync(mqttUrl, { clientId, clean: true, connectTimeout: CONNECT_TIMEOUT_MS, reconnectPeriod: 1_000 }, false);
  } catch (err) {
    throw new MqttUnreachableError(`cannot reach the MQTT broker at ${withoutCredentials(mqttUrl)} (MQTT_URL): ${(err as Error).message}`);
  }
}

/** Publishes the plant's readings until the duration is over or `signal` aborts; resolves with the figures. */
export async function runSimulation(run: SimulationRun): Promise<SimulationReport> {
  const { settings, print } = run;
  const progressEveryMs = run.progressEveryMs ?? 5_000;
  const client = await connect(run.mqttUrl, `mes-simulate-${settings.runId}`);
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  const say = (text: string) => print(`simulate: ${seconds(elapsed())}  ${text}`);

  let sent = 0;
  let acknowledged = 0;
  let failed = 0;
  let settled: (() => void) | undefined;
  const onSettled = () => {
    settled?.();
    settled = undefined;
  };
  let connected = true;
  client.on('error', () => undefined); // reported through 'offline' and the figures, not thrown
  client.on('offline', () => {
    if (!connected) return;
    connected = false;
    say(`lost the MQTT broker at ${withoutCredentials(run.mqttUrl)} (MQTT_URL); reconnecting, readings wait`);
  });
  client.on('connect', () => {
    if (connected) return;
    connected = true;
    say('reconnected to the MQTT broker');
  });

  const stop = new AbortController();
  const onAbort = () => stop.abort();
  run.signal?.addEventListener('abort', onAbort, { once: true });
  if (run.signal?.aborted) stop.abort();

  print(
    `simulate: plant ${settings.plantId}, ${plural(settings.machineIds.length, 'machine')} (${describeMachines(settings.machineIds)}), ` +
      `readings ${settings.readingsPerSecond}/s, faults ${settings.faultsPerMinute}/min, for ${run.duration}, seed ${settings.seed}, to ${withoutCredentials(run.mqttUrl)}`,
  );

  let simulation = startSimulation(settings);
  const intervalMs = 1000 / settings.readingsPerSecond;
  let nextProgressAt = progressEveryMs;
  const progress = () => `sent ${sent.toLocaleString('en-US')}, acknowledged ${acknowledged.toLocaleString('en-US')}, ${plural(simulation.tally.faults, 'fault')}`;
  try {
    while (!stop.signal.aborted) {
      const now = elapsed();
      if (now >= run.durationMs) break;
      if (now >= nextProgressAt) {
        say(progress());
        nextProgressAt += progressEveryMs * Math.max(1, Math.ceil((now - nextProgressAt) / progressEveryMs));
      }
      // Readings due by now (one at time 0, then one every interval), sent in a burst if the timer
      // woke late, so the rate holds on average.
      const due = Math.min(Math.floor(now / intervalMs) + 1, Math.ceil(run.durationMs / intervalMs));
      while (sent < due && sent - acknowledged - failed < MAX_IN_FLIGHT) {
        const step = nextReading(simulation, new Date());
        simulation = step.simulation;
        for (const change of step.changes) say(describeChange(change));
        sent++;
        client.publish(step.reading.topic, JSON.stringify(step.reading.payload), { qos: 1 }, (err) => {
          if (err) failed++;
          else acknowledged++;
          onSettled();
        });
      }
      const wait = Math.max(0, Math.min(sent * intervalMs, nextProgressAt, run.durationMs) - elapsed());
      if (sent - acknowledged - failed >= MAX_IN_FLIGHT) {
        await Promise.race([new Promise<void>((resolve) => (settled = resolve)), sleep(Math.max(wait, 100), undefined, { signal: stop.signal }).catch(() => undefined)]);
      } else {
        await sleep(wait, undefined, { signal: stop.signal }).catch(() => undefined);
      }
    }
    const stoppedEarly = stop.signal.aborted;
    const sentFor = elapsed();
    // The broker's acknowledgements of the last readings, for a while.
    const deadline = performance.now() + ACK_GRACE_MS;
    while (acknowledged + failed < sent && performance.now() < deadline) {
      await Promise.race([new Promise<void>((resolve) => (settled = resolve)), sleep(100)]);
    }
    return { sent, acknowledged, failed, elapsedMs: sentFor, stoppedEarly, tally: simulation.tally };
  } finally {
    run.signal?.removeEventListener('abort', onAbort);
    await new Promise<void>((resolve) => client.end(acknowledged + failed < sent, {}, () => resolve()));
  }
}

/** The closing line: what was sent, what the broker acknowledged, what happened on the floor. */
export function formatSimulationSummary(report: SimulationReport, settings: SimulationSettings): string {
  const { tally } = report;
  const rate = report.sent / Math.max(report.elapsedMs / 1000, 0.001);
  return (
    `simulate: ${report.stoppedEarly ? 'stopped' : 'done'} after ${seconds(report.elapsedMs)}: ${plural(report.sent, 'reading')} sent for ` +
    `${plural(settings.machineIds.length, 'machine')} of plant ${settings.plantId} (${rate.toFixed(1)}/s), ${report.acknowledged.toLocaleString('en-US')} acknowledged; ` +
    `${plural(tally.faults, 'fault')}, ${plural(tally.recoveries, 'recovery', 'recoveries')}, ${plural(tally.qualityDeclines, 'quality decline')}, ` +
    `${plural(tally.outputDips, 'output dip')} (seed ${settings.seed})`
  );
}
