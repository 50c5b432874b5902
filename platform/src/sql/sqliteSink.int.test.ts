// The SQL sink contract against a real SQLite file (better-sqlite3), plus what only SQLite has:
// the file and its directories created on open, WAL mode, ISO-8601 text for times.
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSqlSink } from './openSqlSink.js';
import { describeSqlSinkContract } from './sqlSinkContract.js';
import { POSITION_COLUMN } from './sqlSink.js';

describeSqlSinkContract('SQLite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mes-sqlite-contract-'));
  const url = `sqlite:${join(dir, 'contract.sqlite')}`;
  return {
    open: () => openSqlSink(url),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
});

describe('SQLite sink', () => {
  it('creates the file and its directories from a path relative to the working directory, in WAL mode', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mes-sqlite-'));
    try {
      const sink = await openSqlSink('sqlite:./nested/deeper/mes.sqlite', { cwd: dir });
      const file = join(dir, 'nested/deeper/mes.sqlite');
      expect(sink.location).toBe(`sqlite:${file}`);
      await sink.migrate([
        {
          version: 1,
          description: 'times',
          ops: [{ kind: 'createTable', table: { name: 'Times', columns: [{ name: 'ID', type: { kind: 'text', maxLength: 8 } }, { name: 'At', type: { kind: 'datetime' } }, { name: POSITION_COLUMN, type: { kind: 'position' } }], primaryKey: ['ID'] } }],
        },
      ]);
      await sink.write([{ kind: 'upsert', table: { name: 'Times', columns: [{ name: 'ID', type: { kind: 'text', maxLength: 8 } }, { name: 'At', type: { kind: 'datetime' } }, { name: POSITION_COLUMN, type: { kind: 'position' } }], primaryKey: ['ID'] }, key: { ID: 'a' }, values: { At: '2026-11-25T11:00:00+01:00' }, position: 7n }]);
      await sink.close();
      expect(existsSync(file)).toBe(true);
      // What a reporting tool opening the file sees.
      const db = new Database(file, { readonly: true });
      try {
        expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
        expect(db.prepare('SELECT "At", "LastPosition" FROM "Times"').get()).toEqual({ At: '2026-11-25T10:00:00.000Z', LastPosition: '000000000000000000000000000000000000007' });
        expect(db.prepare('SELECT type FROM pragma_table_info(\'Times\') WHERE name = \'At\'').get()).toEqual({ type: 'TEXT' });
      } finally {
        db.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
