// The contract every SQL sink adapter passes (SQLite here, SQL Server through testcontainers):
// migrations, idempotent row ops by position, atomic writes, guards, schema ops, value checks.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POSITION_COLUMN, SqlValueError, type SqlMigration, type SqlSink, type SqlTable } from './sqlSink.js';

export interface SqlSinkFixture {
  /** Opens a new connection to the same empty database (called several times, e.g. for concurrent migrations). */
  open(): Promise<SqlSink>;
  dispose(): Promise<void>;
}

const ITEMS: SqlTable = {
  name: 'ContractItems',
  columns: [
    { name: 'ItemID', type: { kind: 'text', maxLength: 64 } },
    { name: 'Name', type: { kind: 'text', maxLength: 10 } },
    { name: 'Status', type: { kind: 'text', maxLength: 32 } },
    { name: 'Holder', type: { kind: 'text', maxLength: 64 }, nullable: true },
    { name: 'Reason', type: { kind: 'text', maxLength: 64 }, nullable: true },
    { name: 'Amount', type: { kind: 'float' } },
    { name: 'At', type: { kind: 'datetime' } },
    { name: 'DoneAt', type: { kind: 'datetime' }, nullable: true },
    { name: POSITION_COLUMN, type: { kind: 'position' } },
  ],
  primaryKey: ['ItemID'],
  indexes: [{ name: 'IX_ContractItems_Status', columns: ['Status'] }],
};

const CHECKPOINTS: SqlTable = {
  name: 'ContractCheckpoints',
  columns: [
    { name: 'Source', type: { kind: 'text', maxLength: 128 } },
    { name: POSITION_COLUMN, type: { kind: 'position' } },
  ],
  primaryKey: ['Source'],
};

const MIGRATIONS: SqlMigration[] = [
  { version: 1, description: 'items', ops: [{ kind: 'createTable', table: { ...ITEMS, columns: ITEMS.columns.filter((c) => c.name !== 'Reason') } }] },
  { version: 2, description: 'checkpoints', ops: [{ kind: 'createTable', table: CHECKPOINTS }] },
  { version: 3, description: 'item reason', ops: [{ kind: 'addColumn', table: ITEMS.name, column: { name: 'Reason', type: { kind: 'text', maxLength: 64 }, nullable: true } }] },
];

const item = (id: string, position: bigint, values: Partial<Record<'Name' | 'Status' | 'Amount' | 'At', string | number>> = {}) => ({
  kind: 'upsert' as const,
  table: ITEMS,
  key: { ItemID: id },
  values: { Name: 'first', Status: 'Open', Amount: 1.5, At: '2026-01-02T03:04:05.678Z', ...values },
  insertOnly: { Holder: null, DoneAt: null },
  position,
});

export function describeSqlSinkContract(adapter: string, setup: () => Promise<SqlSinkFixture>): void {
  describe(`SQL sink contract: ${adapter}`, () => {
    let fixture: SqlSinkFixture;
    let sink: SqlSink;
    const rows = async (where?: Record<string, string>) => sink.select(ITEMS, { ...(where ? { where } : {}), orderBy: ['ItemID'] });

    beforeAll(async () => {
      fixture = await setup();
      sink = await fixture.open();
    });
    afterAll(async () => {
      await sink?.close();
      await fixture?.dispose();
    });

    describe('migrations', () => {
      it('applies every migration once, even when two connections migrate at the same time', async () => {
        const other = await fixture.open();
        try {
          const [a, b] = await Promise.all([sink.migrate(MIGRATIONS.slice(0, 2)), other.migrate(MIGRATIONS.slice(0, 2))]);
          expect([...a, ...b].sort()).toEqual([1, 2]);
          expect(await sink.migrate(MIGRATIONS)).toEqual([3]);
          expect(await other.migrate(MIGRATIONS)).toEqual([]);
        } finally {
          await other.close();
        }
        const applied = await sink.appliedMigrations();
        expect(applied.map((m) => [m.version, m.description])).toEqual([[1, 'items'], [2, 'checkpoints'], [3, 'item reason']]);
        expect(applied[0]!.appliedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        expect(await sink.listTables()).toEqual(expect.arrayContaining(['SchemaMigrations', ITEMS.name, CHECKPOINTS.name]));
      });

      it('refuses a list of migrations with a gap', async () => {
        await expect(sink.migrate([MIGRATIONS[0]!, { ...MIGRATIONS[2]!, version: 4 }])).rejects.toThrow(/numbered 1, 2, 3/);
      });
    });

    describe('upsert', () => {
      it('inserts a new row with its position, and reads times back as UTC ISO strings', async () => {
        expect(await sink.write([item('A', 10n, { At: '2026-01-02T04:04:05.678+01:00' })])).toBe(true);
        expect(await rows({ ItemID: 'A' })).toEqual([
          { ItemID: 'A', Name: 'first', Status: 'Open', Holder: null, Reason: null, Amount: 1.5, At: '2026-01-02T03:04:05.678Z', DoneAt: null, LastPosition: 10n },
        ]);
      });

      it('changes nothing for the same or an earlier position', async () => {
        await sink.write([item('A', 10n, { Name: 'again' }), item('A', 9n, { Name: 'older' })]);
        expect((await rows({ ItemID: 'A' }))[0]).toMatchObject({ Name: 'first', LastPosition: 10n });
      });

      it('updates the values, not the insert-only ones, for a later position', async () => {
        await sink.write([{ kind: 'update', table: ITEMS, key: { ItemID: 'A' }, values: { Holder: 'H1' }, position: 11n }]);
        await sink.write([{ ...item('A', 12n, { Name: 'second' }), insertOnly: { Holder: null, DoneAt: null } }]);
        expect((await rows({ ItemID: 'A' }))[0]).toMatchObject({ Name: 'second', Holder: 'H1', LastPosition: 12n });
      });

      it('compares positions as numbers up to 128 bits, not as text', async () => {
        const big = (1n << 127n) + 5n;
        await sink.write([item('B', 9n), item('B', big, { Name: 'big' }), item('B', 99n, { Name: 'small' })]);
        expect((await rows({ ItemID: 'B' }))[0]).toMatchObject({ Name: 'big', LastPosition: big });
      });
    });

    describe('update', () => {
      it('changes nothing when the row does not exist', async () => {
        await sink.write([{ kind: 'update', table: ITEMS, key: { ItemID: 'nobody' }, values: { Status: 'Closed' }, position: 50n }]);
        expect(await rows({ ItemID: 'nobody' })).toEqual([]);
      });

      it('applies a later change and ignores a replayed one', async () => {
        await sink.write([item('C', 20n)]);
        const close = { kind: 'update' as const, table: ITEMS, key: { ItemID: 'C' }, values: { Status: 'Closed', DoneAt: '2026-01-03T00:00:00Z' }, position: 21n };
        await sink.write([close]);
        await sink.write([{ ...close, values: { Status: 'Replayed', DoneAt: null } }]);
        expect((await rows({ ItemID: 'C' }))[0]).toMatchObject({ Status: 'Closed', DoneAt: '2026-01-03T00:00:00.000Z', LastPosition: 21n });
      });

      it('chooses a value by whether another column was NULL before the update', async () => {
        await sink.write([item('D', 30n), item('E', 30n)]);
        await sink.write([{ kind: 'update', table: ITEMS, key: { ItemID: 'D' }, values: { Holder: 'H9' }, position: 31n }]);
        const markOut = (id: string) => ({
          kind: 'update' as const,
          table: ITEMS,
          key: { ItemID: id },
          values: { Reason: 'broken', Status: { whenNull: 'Holder', then: 'Unavailable', otherwise: 'Allocated' } },
          position: 32n,
        });
        await sink.write([markOut('D'), markOut('E')]);
        expect((await rows()).filter((r) => r.ItemID === 'D' || r.ItemID === 'E').map((r) => [r.ItemID, r.Status, r.Reason])).toEqual([
          ['D', 'Allocated', 'broken'],
          ['E', 'Unavailable', 'broken'],
        ]);
      });
    });

    describe('delete', () => {
      it('removes the row with the key, and nothing when there is none', async () => {
        await sink.write([item('Z1', 1n), item('Z2', 1n)]);
        await sink.write([{ kind: 'delete', table: ITEMS, key: { ItemID: 'Z1' } }, { kind: 'delete', table: ITEMS, key: { ItemID: 'Z9' } }]);
        expect((await rows()).filter((r) => String(r.ItemID).startsWith('Z')).map((r) => r.ItemID)).toEqual(['Z2']);
      });
    });

    describe('a write', () => {
      it('is all or nothing: a value that does not fit rolls back the ops before it', async () => {
        await expect(sink.write([item('F', 40n), item('G', 41n, { Name: 'far too long for ten' })])).rejects.toThrow(SqlValueError);
        await expect(sink.write([item('F', 40n), item('G', 41n, { Name: 'far too long for ten' })])).rejects.toThrow(/ContractItems\.Name holds at most 10 characters/);
        expect(await rows({ ItemID: 'F' })).toEqual([]);
      });

      it('refuses NULL in a NOT NULL column and a time that is not one', async () => {
        await expect(sink.write([{ ...item('H', 1n), values: { Name: null, Status: 'x', Amount: 1, At: '2026-01-01T00:00:00Z' } }])).rejects.toThrow(/Name must not be NULL/);
        await expect(sink.write([item('H', 1n, { At: 'yesterday' })])).rejects.toThrow(/ISO-8601/);
      });

      it('applies many ops in one transaction (more than one request holds)', async () => {
        const ops = Array.from({ length: 700 }, (_, i) => item(`bulk-${String(i).padStart(4, '0')}`, BigInt(1000 + i), { Amount: i }));
        expect(await sink.write(ops)).toBe(true);
        const bulk = (await rows()).filter((r) => String(r.ItemID).startsWith('bulk-'));
        expect(bulk).toHaveLength(700);
        expect(bulk[699]).toMatchObject({ ItemID: 'bulk-0699', Amount: 699, LastPosition: 1699n });
      });
    });

    describe('guards', () => {
      it('writes nothing when a row with the prefix is past the position', async () => {
        const checkpoint = (source: string, position: bigint) => ({ kind: 'upsert' as const, table: CHECKPOINTS, key: { Source: source }, values: {}, position });
        await sink.write([checkpoint('events', 100n), checkpoint('events:P1', 120n), checkpoint('telemetry', 500n)]);
        const guard = (atMost: bigint) => ({ table: CHECKPOINTS.name, keyColumn: 'Source', keyPrefix: 'events', atMost });
        expect(await sink.write([item('I', 1n)], { lockTables: [ITEMS.name], guards: [guard(119n)] })).toBe(false);
        expect(await rows({ ItemID: 'I' })).toEqual([]);
        expect(await sink.write([item('I', 1n)], { lockTables: [ITEMS.name], guards: [guard(120n)] })).toBe(true);
        expect(await rows({ ItemID: 'I' })).toHaveLength(1);
      });
    });

    describe('schema ops in a write', () => {
      it('creates, fills, drops and renames tables in one transaction', async () => {
        const shadow: SqlTable = { ...ITEMS, name: 'ContractItems__shadow', indexes: [{ name: 'IX_ContractItems__shadow_Status', columns: ['Status'] }] };
        await sink.write([{ kind: 'dropTable', name: shadow.name }, { kind: 'createTable', table: shadow }, { ...item('S1', 5n), table: shadow }]);
        expect(await sink.select(shadow)).toHaveLength(1);
        await sink.write([
          { kind: 'dropTable', name: ITEMS.name },
          { kind: 'renameTable', from: shadow.name, to: ITEMS.name },
          { ...item('S2', 6n), table: ITEMS },
        ]);
        expect((await rows()).map((r) => r.ItemID)).toEqual(['S1', 'S2']);
        expect(await sink.listTables()).not.toContain(shadow.name);
        // The same shadow name can be used again after the swap.
        await sink.write([{ kind: 'createTable', table: { ...shadow, indexes: [] } }, { kind: 'dropTable', name: shadow.name }]);
      });
    });

    describe('reads', () => {
      it('page rows in a stable order, newest first when asked, and count them', async () => {
        const table = { ...ITEMS, name: 'ContractPages' };
        await sink.write([{ kind: 'createTable', table }]);
        const ops = ['a', 'b', 'c', 'd', 'e'].map((id, index) => ({ ...item(id, BigInt(index + 1), { At: `2026-01-0${index + 1}T00:00:00.000Z`, Status: index % 2 === 0 ? 'Open' : 'Done' }), table }));
        await sink.write(ops);
        const ids = (rows: { ItemID?: unknown }[]) => rows.map((row) => row.ItemID);
        expect(ids(await sink.select(table, { orderBy: ['At'], descending: true, limit: 2 }))).toEqual(['e', 'd']);
        expect(ids(await sink.select(table, { orderBy: ['At'], descending: true, limit: 2, offset: 2 }))).toEqual(['c', 'b']);
        expect(ids(await sink.select(table, { orderBy: ['At'], offset: 4 }))).toEqual(['e']);
        expect(ids(await sink.select(table, { where: { Status: 'Open' }, orderBy: ['At'], descending: true, limit: 10 }))).toEqual(['e', 'c', 'a']);
        expect(await sink.count(table)).toBe(5);
        expect(await sink.count(table, { Status: 'Done' })).toBe(2);
        expect(await sink.count(table, { Holder: null })).toBe(5);
        await expect(sink.select(table, { limit: 1 })).rejects.toThrow(/need orderBy/);
        await expect(sink.select(table, { orderBy: ['At'], limit: 0 })).rejects.toThrow(/limit must be a whole number/);
        await sink.write([{ kind: 'dropTable', name: table.name }]);
      });

      it('list the distinct combinations of columns, ordered', async () => {
        const table = { ...ITEMS, name: 'ContractDistinct' };
        await sink.write([{ kind: 'createTable', table }]);
        await sink.write([
          { ...item('a', 1n, { Status: 'Open', Name: 'x' }), table },
          { ...item('b', 2n, { Status: 'Open', Name: 'x' }), table },
          { ...item('c', 3n, { Status: 'Done', Name: 'y' }), table },
        ]);
        expect(await sink.selectDistinct(table, ['Status', 'Name'])).toEqual([{ Status: 'Done', Name: 'y' }, { Status: 'Open', Name: 'x' }]);
        expect(await sink.selectDistinct(table, ['Name'], { Status: 'Open' })).toEqual([{ Name: 'x' }]);
        await sink.write([{ kind: 'dropTable', name: table.name }]);
      });
    });

    it('answers a ping', async () => {
      await expect(sink.ping()).resolves.toBeUndefined();
    });
  });
}
