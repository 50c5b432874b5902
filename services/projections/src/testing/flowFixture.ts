// The whole flow for the projections' end-to-end test: isolated nats-server, Mosquitto and SMTP
// server, a plant with resources, and helpers to publish readings, read the approval email and
// submit a decision as the approver's browser would (as app/src/testing/flowFixture.ts does).
import { startMosquitto, startNatsServer, startSmtpCapture, type MosquittoHandle, type NatsServerHandle, type SmtpCapture } from '@mes/platform/testing';
import type { ParsedMail } from 'mailparser';
import mqtt from 'mqtt';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const FLOW_PLANTS_YAML = `plants:
  P1:
    approvers:
      - { email: alice@plant1.example, name: Alice Novak }
      - { email: bob@plant1.example, name: Bob Ito }
    approvalTimeout: PT30M
    resources:
      - { id: T-01, type: Technician, name: Dana Ruiz }
      - { id: EQ-01, type: Equipment, name: Scissor lift }
    rules:
      - { when: { machineStatus: Fault }, action: maintenance, reason: "Machine fault" }
`;

export interface FlowFixture {
  nats: NatsServerHandle;
  mosquitto: MosquittoHandle;
  smtp: SmtpCapture;
  dir: string;
  env: NodeJS.ProcessEnv;
  dispose(): Promise<void>;
}

export async function startFlowFixture(): Promise<FlowFixture> {
  const [nats, mosquitto, smtp] = await Promise.all([startNatsServer(), startMosquitto(), startSmtpCapture()]);
  const dir = await mkdtemp(join(tmpdir(), 'mes-projections-flow-'));
  const configPath = join(dir, 'plants.yaml');
  await writeFile(configPath, FLOW_PLANTS_YAML);
  return {
    nats,
    mosquitto,
    smtp,
    dir,
    env: {
      NATS_URL: nats.url,
      MQTT_URL: mosquitto.url,
      SMTP_URL: smtp.url,
      MES_CONFIG: configPath,
      DATA_DIR: dir,
      SQL_URL: `sqlite:${join(dir, 'reporting', 'mes.sqlite')}`,
      HTTP_HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      API_TOKEN: 'flow-test-api-token-0123456789',
      APPROVAL_SECRET: 'flow-test-approval-secret-0123456789abcdef',
    },
    async dispose() {
      await Promise.all([nats.dispose(), mosquitto.dispose(), smtp.close()]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function publishReading(mqttUrl: string, plantId: string, machineId: string, reading: Record<string, unknown>): Promise<void> {
  const client = await mqtt.connectAsync(mqttUrl, { reconnectPeriod: 0 });
  try {
    await client.publishAsync(`mes/${plantId}/${machineId}/telemetry`, JSON.stringify(reading), { qos: 1 });
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

export function approvalLinks(mail: ParsedMail): { orderId: string; approveUrl: string } {
  const orderId = /MO_[A-Za-z0-9_-]+/.exec(mail.subject ?? '')?.[0];
  const approveUrl = [...(mail.text ?? '').matchAll(/https?:\/\/\S+\/approvals\/\S+/g)].map((m) => m[0]).find((link) => /\/approve\?/.test(link));
  if (!orderId || !approveUrl) throw new Error(`not an approval email: ${mail.subject}\n${mail.text}`);
  return { orderId, approveUrl };
}

/** Submits the confirmation form of an approval link, as the approver's browser would. */
export async function submitDecision(link: string, comment: string): Promise<Response> {
  const url = new URL(link);
  const token = url.searchParams.get('token') ?? '';
  url.search = '';
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'flow-test-browser/1.0' },
    body: new URLSearchParams({ token, comment }).toString(),
  });
}
