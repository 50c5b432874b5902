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
import { POSITION_COLUMN, type SqlTable } from './sqlSink.js';

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

describe('SQLite sink statements', () => {
  const table: SqlTable = {
    name: 'Shapes',
    columns: [
      { name: 'ID', type: { kind: 'text', maxLength: 8 } },
      { name: 'Status', type: { kind: 'text', maxLength: 16 } },
      { name: 'Holder', type: { kind: 'text', maxLength: 16 }, nullable: true },
      { name: 'Note', type: { kind: 'text', maxLength: 4 }, nullable: true },
      { name: POSITION_COLUMN, type: { kind: 'position' } },
    ],
    primaryKey: ['ID'],
  };

  it('apply ops of one table in many shapes, interleaved, each with its own columns and checks', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mes-sqlite-shapes-'));
    const sink = await openSqlSink(`sqlite:${join(dir, 'shapes.sqlite')}`);
    try {
      await sink.write([{ kind: 'createTable', table }]);
      // Two batches with the same shapes (the second one reuses what the first one prepared).
      for (const base of [0n, 100n]) {
        await sink.write([
          { kind: 'upsert', table, key: { ID: `a${base}` }, values: { Status: 'Open' }, insertOnly: { Holder: null }, position: base + 1n },
          { kind: 'upsert', table, key: { ID: `b${base}` }, values: { Status: 'Open', Holder: 'h' }, position: base + 2n },
          { kind: 'update', table, key: { ID: `a${base}` }, values: { Status: { whenNull: 'Holder', then: 'Free', otherwise: 'Held' } }, position: base + 3n },
          { kind: 'update', table, key: { ID: `b${base}` }, values: { Status: { whenNull: 'Holder', then: 'Free', otherwise: 'Held' } }, position: base + 4n },
          { kind: 'update', table, key: { ID: `b${base}` }, values: { Status: 'Done' }, position: base + 5n },
          { kind: 'update', table, key: { ID: `a${base}` }, values: { Note: 'n' }, position: base + 6n },
          // Not after the row's position: ignored.
          { kind: 'update', table, key: { ID: `a${base}` }, values: { Status: 'Late' }, position: base + 2n },
        ]);
      }
      expect(await sink.select(table, { orderBy: ['ID'] })).toEqual([
        { ID: 'a0', Status: 'Free', Holder: null, Note: 'n', LastPosition: 6n },
        { ID: 'a100', Status: 'Free', Holder: null, Note: 'n', LastPosition: 106n },
        { ID: 'b0', Status: 'Done', Holder: 'h', Note: null, LastPosition: 5n },
        { ID: 'b100', Status: 'Done', Holder: 'h', Note: null, LastPosition: 105n },
      ]);
      // A value that does not fit is refused in a shape seen before, and the whole batch with it.
      await expect(sink.write([{ kind: 'update', table, key: { ID: 'a0' }, values: { Status: 'Gone' }, position: 200n }, { kind: 'update', table, key: { ID: 'a0' }, values: { Note: 'too long' }, position: 201n }])).rejects.toThrow(/Shapes.Note holds at most 4/);
      await expect(sink.write([{ kind: 'update', table, key: { ID: 'a0' }, values: { Nope: 'x' }, position: 202n }])).rejects.toThrow(/has no column Nope/);
      expect((await sink.select(table, { where: { ID: 'a0' } }))[0]).toMatchObject({ Status: 'Free', LastPosition: 6n });
      // The table swapped for another under the same name (a rebuild's swap): writes go to the new one.
      const shadow = { ...table, name: 'Shapes__new' };
      await sink.write([{ kind: 'createTable', table: shadow }, { kind: 'upsert', table: shadow, key: { ID: 'z' }, values: { Status: 'New' }, position: 1n }, { kind: 'dropTable', name: table.name }, { kind: 'renameTable', from: shadow.name, to: table.name }]);
      await sink.write([{ kind: 'update', table, key: { ID: 'z' }, values: { Status: 'Newer' }, position: 2n }]);
      expect(await sink.select(table)).toEqual([{ ID: 'z', Status: 'Newer', Holder: null, Note: null, LastPosition: 2n }]);
    } finally {
      await sink.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
