// End-to-end fixture: isolated nats-server, Mosquitto and SMTP server, a plant configuration of the
// test's own, and helpers to publish readings, read emails and follow approval links.
import { streamName } from '@mes/contracts';
import type { ParsedMail } from 'mailparser';
import mqtt from 'mqtt';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EventStore, RecordedEvent } from '../eventStore/eventStore.js';
import { startMosquitto, type MosquittoHandle } from './mosquitto.js';
import { startNatsServer, type NatsServerHandle } from './natsServer.js';
import { startSmtpCapture, type SmtpCapture } from './smtpCapture.js';

export interface FlowFixture {
  nats: NatsServerHandle;
  mosquitto: MosquittoHandle;
  smtp: SmtpCapture;
  dataDir: string;
  env: NodeJS.ProcessEnv;
  dispose(): Promise<void>;
}

/**
 * Starts the brokers and an SMTP server, writes `plantsYaml` as MES_CONFIG, and returns the
 * environment for startRuntime or a service process (DATA_DIR and SQL_URL in a temporary folder).
 */
export async function startFlowFixture(options: { plantsYaml: string }): Promise<FlowFixture> {
  const [nats, mosquitto, smtp] = await Promise.all([startNatsServer(), startMosquitto(), startSmtpCapture()]);
  const dataDir = await mkdtemp(join(tmpdir(), 'mes-flow-'));
  const configPath = join(dataDir, 'plants.yaml');
  await writeFile(configPath, options.plantsYaml);
  return {
    nats,
    mosquitto,
    smtp,
    dataDir,
    env: {
      NATS_URL: nats.url,
      MQTT_URL: mosquitto.url,
      SMTP_URL: smtp.url,
      MES_CONFIG: configPath,
      DATA_DIR: dataDir,
      SQL_URL: `sqlite:${join(dataDir, 'mes.sqlite')}`,
      HTTP_HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      API_TOKEN: 'flow-test-api-token-0123456789',
      APPROVAL_SECRET: 'flow-test-approval-secret-0123456789abcdef',
    },
    async dispose() {
      await Promise.all([nats.dispose(), mosquitto.dispose(), smtp.close()]);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export async function publishReading(mqttUrl: string, plantId: string, machineId: string, reading: Record<string, unknown>, times = 1): Promise<void> {
  const client = await mqtt.connectAsync(mqttUrl, { reconnectPeriod: 0 });
  try {
    for (let i = 0; i < times; i++) {
      await client.publishAsync(`mes/${plantId}/${machineId}/telemetry`, JSON.stringify({ qualityTrend: 'Stable', productionTarget: 100, productionActual: 95, ...reading }), { qos: 1 });
    }
  } finally {
    await client.endAsync();
  }
}

/** Polls `probe` until it returns a value, or fails naming `what`. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

export function mailsTo(smtp: SmtpCapture, email: string): ParsedMail[] {
  return smtp.messages.filter((mail) => {
    const to = Array.isArray(mail.to) ? mail.to : mail.to ? [mail.to] : [];
    return to.some((address) => address.value.some((v) => v.address === email));
  });
}

export interface ApprovalEmail {
  mail: ParsedMail;
  orderId: string;
  approveUrl: string;
  rejectUrl: string;
}

export function approvalEmail(mail: ParsedMail): ApprovalEmail {
  const orderId = /MO_[A-Za-z0-9_-]+/.exec(mail.subject ?? '')?.[0];
  const links = [...(mail.text ?? '').matchAll(/https?:\/\/\S+\/approvals\/\S+/g)].map((m) => m[0]);
  const approveUrl = links.find((link) => /\/approve\?/.test(link));
  const rejectUrl = links.find((link) => /\/reject\?/.test(link));
  if (!orderId || !approveUrl || !rejectUrl) throw new Error(`not an approval email: ${mail.subject}\n${mail.text}`);
  return { mail, orderId, approveUrl, rejectUrl };
}

/** Submits the confirmation form of an approval link, as the approver's browser would. */
export async function submitDecision(link: string, comment = ''): Promise<Response> {
  const url = new URL(link);
  const token = url.searchParams.get('token') ?? '';
  url.search = '';
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'flow-test-browser/1.0' },
    body: new URLSearchParams({ token, comment }).toString(),
  });
}

export async function eventsOf(store: EventStore, plantId: string): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  for await (const event of store.readAll({ plantId })) events.push(event);
  return events;
}

export async function orderEvents(store: EventStore, plantId: string, orderId: string): Promise<string[]> {
  return (await store.readStream(streamName(plantId, 'order', orderId))).events.map((e) => e.type);
}
