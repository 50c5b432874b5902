// Edge devices for the chaos runs: each incident is a fresh machine that reports one normal reading
// and then a fault, over MQTT QoS 1 with a messageId and a timestamp. A reading counts as
// acknowledged once the broker PUBACKed it: from then on the platform owes it to MESData.
import mqtt, { type MqttClient } from 'mqtt';
import { setTimeout as sleep } from 'node:timers/promises';
import { CHAOS_PLANTS } from './chaosPlants.js';

export interface SentReading {
  plantId: string;
  machineId: string;
  messageId: string;
  machineStatus: 'Running' | 'Fault';
  /** ISO instant, distinct per reading of a machine: how MESData rows are matched back to it. */
  timestamp: string;
  acknowledged: boolean;
}

export interface IncidentGeneratorOptions {
  mqttUrl: string;
  incidents: number;
  /** Incidents started per second. */
  rate: number;
  /** MQTT clients the incidents are spread over. */
  devices?: number;
  /** Makes machine ids unique to this run. */
  runId: string;
}

export interface IncidentGenerator {
  readonly readings: readonly SentReading[];
  /** Incidents started so far. */
  started(): number;
  /** Resolves once every incident was started and every reading acknowledged, or `timeoutMs` passed. */
  finish(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

export async function startIncidentGenerator(options: IncidentGeneratorOptions): Promise<IncidentGenerator> {
  const devices: MqttClient[] = [];
  for (let i = 0; i < (options.devices ?? 4); i++) {
    // A device that keeps its own in-flight publishes across a broker restart and sends them again.
    devices.push(await mqtt.connectAsync(options.mqttUrl, { clientId: `chaos-device-${options.runId}-${i}`, reconnectPeriod: 1_000, connectTimeout: 5_000 }));
  }
  const readings: SentReading[] = [];
  const pending = new Set<Promise<void>>();
  let started = 0;
  let stopped = false;
  const base = Date.parse('2026-01-01T00:00:00.000Z');

  const publish = async (device: MqttClient, reading: SentReading) => {
    const payload = JSON.stringify({
      machineStatus: reading.machineStatus,
      qualityTrend: 'Stable',
      productionTarget: 100,
      productionActual: reading.machineStatus === 'Fault' ? 0 : 97,
      timestamp: reading.timestamp,
      messageId: reading.messageId,
    });
    await device.publishAsync(`mes/${reading.plantId}/${reading.machineId}/telemetry`, payload, { qos: 1 });
    reading.acknowledged = true;
  };

  const incident = async (n: number) => {
    const device = devices[n % devices.length]!;
    const plantId = CHAOS_PLANTS[n % CHAOS_PLANTS.length]!;
    const machineId = `C${options.runId}-${n}`;
    const at = base + n * 1_000;
    for (const [k, machineStatus] of (['Running', 'Fault'] as const).entries()) {
      const reading: SentReading = { plantId, machineId, messageId: `${machineId}-r${k}`, machineStatus, timestamp: new Date(at + k).toISOString(), acknowledged: false };
      readings.push(reading);
      // The fault after the normal reading is acknowledged, as a device sends them in order.
      await publish(device, reading);
    }
  };

  const driving = (async () => {
    const startedAt = Date.now();
    for (let n = 0; n < options.incidents && !stopped; n++) {
      const due = startedAt + (n * 1_000) / options.rate;
      if (due > Date.now()) await sleep(due - Date.now());
      const task: Promise<void> = incident(n).catch(() => undefined).finally(() => pending.delete(task));
      pending.add(task);
      started++;
    }
  })();

  return {
    readings,
    started: () => started,
    async finish(timeoutMs) {
      await driving;
      const deadline = sleep(timeoutMs);
      await Promise.race([Promise.all(pending), deadline]);
    },
    async close() {
      stopped = true;
      await driving;
      // Unacknowledged publishes are dropped: they are not owed to MESData.
      await Promise.all(devices.map((device) => device.endAsync(true).catch(() => undefined)));
    },
  };
}
