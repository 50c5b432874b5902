// An isolated nats-server, a temporary directory for SQLite files and a plant configuration, and
// helpers to run the projections service and wait until it has applied everything.
import { startRuntime, type Runtime, type StartService } from '@mes/platform';
import { freePort, startNatsServer, type NatsServerHandle } from '@mes/platform/testing';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SourceReport } from '../adapters/projectionRoutes.js';

export const PROJECTION_PLANTS_YAML = `plants:
  P1:
    approvers:
      - { email: alice@plant1.example, name: Alice Novak }
      - { email: bob@plant1.example, name: Bob Ito }
    approvalTimeout: PT30M
    resources: []
    rules:
      - { when: { machineStatus: Fault }, action: maintenance, reason: "Machine fault" }
  P2:
    approvers:
      - { email: carol@plant2.example, name: Carol Mendes }
    approvalTimeout: PT30M
    resources: []
    rules:
      - { when: { machineStatus: Fault }, action: maintenance, reason: "Machine fault" }
`;

export const TEST_API_TOKEN = 'projections-test-api-token-0123456789';

export interface ProjectionsFixture {
  nats: NatsServerHandle;
  dir: string;
  env: NodeJS.ProcessEnv;
  /** `sqlite:` URL of a file in the fixture's directory. */
  sqliteUrl(name: string): string;
  dispose(): Promise<void>;
}

export async function startProjectionsFixture(): Promise<ProjectionsFixture> {
  const nats = await startNatsServer();
  const dir = await mkdtemp(join(tmpdir(), 'mes-projections-'));
  const configPath = join(dir, 'plants.yaml');
  await writeFile(configPath, PROJECTION_PLANTS_YAML);
  return {
    nats,
    dir,
    env: {
      NATS_URL: nats.url,
      MES_CONFIG: configPath,
      DATA_DIR: dir,
      SQL_URL: `sqlite:${join(dir, 'live.sqlite')}`,
      HTTP_HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      API_TOKEN: TEST_API_TOKEN,
      APPROVAL_SECRET: 'projections-test-approval-secret-0123456789abcdef',
    },
    sqliteUrl: (name) => `sqlite:${join(dir, name)}`,
    async dispose() {
      await nats.dispose();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function startProjectionsRuntime(fixture: ProjectionsFixture, services: Record<string, StartService>, env: NodeJS.ProcessEnv = {}): Promise<Runtime> {
  return startRuntime('projections-test', services, { ...fixture.env, HTTP_PORT: String(await freePort()), ...env });
}

export async function projectionStatus(httpUrl: string, apiToken = TEST_API_TOKEN): Promise<{ sources: SourceReport[] }> {
  const response = await fetch(`${httpUrl}/api/projections/status`, { headers: { authorization: `Bearer ${apiToken}` } });
  if (response.status !== 200) throw new Error(`status answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as { sources: SourceReport[] };
}

/** Waits until every source has applied its log to the end (as the status reports it). */
export async function waitUntilCaughtUp(httpUrl: string, timeoutMs = 30_000, apiToken = TEST_API_TOKEN): Promise<SourceReport[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { sources } = await projectionStatus(httpUrl, apiToken);
    if (sources.every((source) => source.upToDate === true)) return sources;
    if (Date.now() > deadline) throw new Error(`projections did not catch up: ${JSON.stringify(sources)}`);
    await sleep(50);
  }
}
