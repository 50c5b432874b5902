// The projections service is killed (SIGKILL, not a clean stop) while it applies a long history;
// a new process resumes from the checkpoints committed with the rows, and the tables end up
// exactly as those of a run that was never interrupted.
import { openSqlSink, type Runtime } from '@mes/platform';
import { freePort, startServiceProcess } from '@mes/platform/testing';
import Database from 'better-sqlite3';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportingSnapshot, rowCounts } from '../testing/reportingSnapshot.js';
import { startProjectionsFixture, startProjectionsRuntime, waitUntilCaughtUp, type ProjectionsFixture } from '../testing/projectionsFixture.js';
import { writeSyntheticHistory } from '../testing/syntheticHistory.js';
import { CHECKPOINTS_TABLE } from './reportingSchema.js';
import { createProjectionsService } from './startProjections.js';

const projectionsMain = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

describe('projections service killed mid-batch', () => {
  let fixture: ProjectionsFixture;
  let runtime: Runtime;
  const children: ChildProcess[] = [];

  /** Runs the projections service alone in its own process, as a deployment would; resolves once it serves. */
  async function startProjectionsProcess(sqlUrl: string, port: number): Promise<ChildProcess> {
    const child = await startServiceProcess(projectionsMain, { ...fixture.env, SQL_URL: sqlUrl, LOG_LEVEL: 'info', HTTP_PORT: String(port) });
    children.push(child);
    return child;
  }

  beforeAll(async () => {
    if (!existsSync(projectionsMain)) throw new Error(`${projectionsMain} is missing: run npm run build first (npm test does)`);
    fixture = await startProjectionsFixture();
    // The uninterrupted run: the same service in this process, into a database of its own.
    runtime = await startProjectionsRuntime(fixture, { projections: createProjectionsService() }, { SQL_URL: fixture.sqliteUrl('uninterrupted.sqlite') });
  });
  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await runtime?.stop();
    await fixture?.dispose();
  });

  it('resumes after SIGKILL and ends with the same tables as an uninterrupted run', async () => {
    const written = await writeSyntheticHistory(runtime.deps.eventStore, runtime.deps.nc, { plants: ['P1', 'P2'], incidents: 700, prefix: 'K', concurrency: 64 });
    expect(written.events).toBeGreaterThan(15_000);

    const file = join(fixture.dir, 'crashed.sqlite');
    const port = await freePort();
    const first = await startProjectionsProcess(`sqlite:${file}`, port);
    // Kill it as soon as its first batches are committed, while it is applying the next ones.
    const deadline = Date.now() + 20_000;
    let atKill: bigint | undefined;
    while (atKill === undefined) {
      if (Date.now() > deadline) throw new Error('the projections process committed nothing in 20 s');
      if (existsSync(file)) {
        const db = new Database(file, { readonly: true, fileMustExist: true });
        try {
          const row = db.prepare(`SELECT "LastPosition" FROM "ProjectionCheckpoints" WHERE "Source" = 'events'`).get() as { LastPosition: string } | undefined;
          if (row) atKill = BigInt(row.LastPosition);
        } catch {
          // The tables are not created yet.
        } finally {
          db.close();
        }
      }
      if (atKill === undefined) await sleep(2);
    }
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));

    const crashed = await openSqlSink(`sqlite:${file}`);
    try {
      const [checkpoint] = await crashed.select(CHECKPOINTS_TABLE, { where: { Source: 'events' } });
      const uninterruptedSources = await waitUntilCaughtUp(runtime.httpUrl, 60_000);
      const end = BigInt(uninterruptedSources.find((s) => s.source === 'events')!.end!);
      // It was stopped part of the way through.
      expect(checkpoint!.LastPosition as bigint).toBeLessThan(end);

      const second = await startProjectionsProcess(`sqlite:${file}`, port);
      await waitUntilCaughtUp(`http://127.0.0.1:${port}`, 60_000);
      second.kill('SIGTERM');
      await new Promise((resolve) => second.once('exit', resolve));

      const uninterrupted = await openSqlSink(fixture.sqliteUrl('uninterrupted.sqlite'));
      try {
        const expected = await reportingSnapshot(uninterrupted);
        expect(rowCounts(expected)).toMatchObject({ MaintenanceOrders: 1_400, MESData: 4_200 });
        expect(await reportingSnapshot(crashed)).toEqual(expected);
      } finally {
        await uninterrupted.close();
      }
    } finally {
      await crashed.close();
    }
  });
});
