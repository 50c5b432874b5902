import { describe, expect, it } from 'vitest';
import { parseSqlUrl } from './openSqlSink.js';
import { decodePosition, encodePosition, encodeValue, isCanonicalUtc, tablesAfterMigrations, type SqlTable } from './sqlSink.js';
import { MssqlBatch, createTableSql, rowOpSql, schemaOpSql } from './mssqlSink.js';

const TABLE: SqlTable = {
  name: 'Things',
  columns: [
    { name: 'ID', type: { kind: 'text', maxLength: 64 } },
    { name: 'Timestamp', type: { kind: 'datetime' } },
    { name: 'Holder', type: { kind: 'text', maxLength: 64 }, nullable: true },
    { name: 'Status', type: { kind: 'text', maxLength: 32 } },
    { name: 'Value', type: { kind: 'float' } },
    { name: 'LastPosition', type: { kind: 'position' } },
  ],
  primaryKey: ['ID'],
};

describe('SQL_URL', () => {
  it('resolves a relative SQLite path from the working directory', () => {
    expect(parseSqlUrl('sqlite:./data/mes.sqlite', '/srv/mes')).toEqual({ kind: 'sqlite', path: '/srv/mes/data/mes.sqlite' });
    expect(parseSqlUrl('sqlite:/var/lib/mes.sqlite', '/srv/mes')).toEqual({ kind: 'sqlite', path: '/var/lib/mes.sqlite' });
    expect(parseSqlUrl('sqlite::memory:')).toEqual({ kind: 'sqlite', path: ':memory:' });
  });

  it('reads a SQL Server URL with escaped credentials, port default 1433 and TLS options', () => {
    expect(parseSqlUrl('mssql://sa:p%40ss%3Aword@db.plant1:14330/mes?encrypt=false&trustServerCertificate=true')).toEqual({
      kind: 'mssql', server: 'db.plant1', port: 14330, database: 'mes', user: 'sa', password: 'p@ss:word', encrypt: false, trustServerCertificate: true,
    });
    expect(parseSqlUrl('mssql://u:p@host/db')).toMatchObject({ port: 1433, encrypt: true, trustServerCertificate: false });
  });

  it('refuses other schemes, a missing database, and a bad flag', () => {
    expect(() => parseSqlUrl('postgres://x@y/z')).toThrow(/sqlite:PATH or mssql:/);
    expect(() => parseSqlUrl('mssql://u:p@host')).toThrow(/database are required/);
    expect(() => parseSqlUrl('mssql://u:p@host/db?encrypt=maybe')).toThrow(/encrypt must be true or false/);
    expect(() => parseSqlUrl('sqlite:')).toThrow(/needs a path/);
  });
});

describe('positions', () => {
  it('are padded so that text order is number order, up to 128 bits', () => {
    const values = [0n, 9n, 10n, 65536n, (1n << 64n) + 1n, (1n << 128n) - 1n];
    const texts = values.map(encodePosition);
    expect([...texts].sort()).toEqual(texts);
    expect(texts.map(decodePosition)).toEqual(values);
    expect(() => encodePosition(1n << 128n)).toThrow(/outside/);
    expect(() => encodePosition(-1n)).toThrow(/outside/);
  });
});

describe('values', () => {
  it('normalise times to UTC with milliseconds', () => {
    expect(encodeValue(TABLE, TABLE.columns[1]!, '2026-11-25T11:00:00+01:00')).toBe('2026-11-25T10:00:00.000Z');
  });

  it('keep a time already in that form exactly when Date.parse and toISOString would give it back unchanged', () => {
    const texts = [
      '2026-11-25T10:00:00.000Z',
      '2024-02-29T23:59:59.999Z',
      '2000-02-29T00:00:00.000Z',
      '0000-01-01T00:00:00.000Z',
      '9999-12-31T23:59:59.999Z',
      // Rolled over by Date.parse, or not a date at all:
      '2026-02-29T00:00:00.000Z',
      '1900-02-29T00:00:00.000Z',
      '2026-04-31T10:00:00.000Z',
      '2026-01-01T24:00:00.000Z',
      '2026-01-01T23:60:00.000Z',
      '2026-01-01T23:59:60.000Z',
      '2026-13-01T00:00:00.000Z',
      '2026-00-10T00:00:00.000Z',
      '2026-01-00T00:00:00.000Z',
      // Other forms Date.parse reads:
      '2026-11-25T10:00:00Z',
      '2026-11-25T10:00:00.000+00:00',
      '2026-11-25 10:00:00.000Z',
      '+002026-11-25T10:00:00.000Z',
      '2026-11-25T10:00:00.0000Z',
      '2026-1x-25T10:00:00.000Z',
    ];
    for (const text of texts) {
      const ms = Date.parse(text);
      const normalised = Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
      expect(isCanonicalUtc(text), text).toBe(normalised === text);
      if (normalised === undefined) expect(() => encodeValue(TABLE, TABLE.columns[1]!, text), text).toThrow(/ISO-8601/);
      else expect(encodeValue(TABLE, TABLE.columns[1]!, text), text).toBe(normalised);
    }
  });
});

describe('migrations folded into tables', () => {
  it('follow creates, added columns, renames and drops', () => {
    const tables = tablesAfterMigrations([
      { version: 1, description: 'a', ops: [{ kind: 'createTable', table: TABLE }, { kind: 'createTable', table: { ...TABLE, name: 'Gone' } }] },
      { version: 2, description: 'b', ops: [{ kind: 'addColumn', table: 'Things', column: { name: 'Extra', type: { kind: 'integer' }, nullable: true } }, { kind: 'dropTable', name: 'Gone' }] },
    ]);
    expect([...tables.keys()]).toEqual(['Things']);
    expect(tables.get('Things')!.columns.map((c) => c.name)).toContain('Extra');
  });
});

describe('T-SQL for SQL Server', () => {
  it('creates the contract types with an unnamed primary key', () => {
    expect(createTableSql(TABLE)[0]).toBe(
      'CREATE TABLE [Things] ([ID] NVARCHAR(64) NOT NULL, [Timestamp] DATETIME2 NOT NULL, [Holder] NVARCHAR(64) NULL, [Status] NVARCHAR(32) NOT NULL, [Value] FLOAT NOT NULL, [LastPosition] VARCHAR(40) NOT NULL, PRIMARY KEY ([ID]));',
    );
  });

  it('upserts with an update guarded by the position, then an insert under a key-range lock', () => {
    const batch = new MssqlBatch();
    rowOpSql({ kind: 'upsert', table: TABLE, key: { ID: 'a' }, values: { Status: 'Open', Value: 1, Timestamp: '2026-01-01T00:00:00Z' }, insertOnly: { Holder: null }, position: 5n }, batch);
    expect(batch.text).toBe(
      'UPDATE [Things] SET [Status] = @p2, [Value] = @p3, [Timestamp] = @p4, [LastPosition] = @p0 WHERE [ID] = @p1 AND [LastPosition] < @p0;\n' +
        'IF @@ROWCOUNT = 0 AND NOT EXISTS (SELECT 1 FROM [Things] WITH (UPDLOCK, HOLDLOCK) WHERE [ID] = @p1)\n' +
        '  INSERT INTO [Things] ([ID], [Status], [Value], [Timestamp], [Holder], [LastPosition]) VALUES (@p1, @p2, @p3, @p4, @p5, @p0);',
    );
    expect(batch.params.map((p) => p.value)).toEqual(['000000000000000000000000000000000000005', 'a', 'Open', 1, new Date('2026-01-01T00:00:00Z'), null]);
  });

  it('updates with a CASE on the row before the update', () => {
    const batch = new MssqlBatch();
    rowOpSql({ kind: 'update', table: TABLE, key: { ID: 'a' }, values: { Status: { whenNull: 'Holder', then: 'Unavailable', otherwise: 'Allocated' } }, position: 6n }, batch);
    expect(batch.text).toBe('UPDATE [Things] SET [Status] = CASE WHEN [Holder] IS NULL THEN @p2 ELSE @p3 END, [LastPosition] = @p0 WHERE [ID] = @p1 AND [LastPosition] < @p0;');
  });

  it('drops only an existing table and renames with sp_rename', () => {
    expect(schemaOpSql({ kind: 'dropTable', name: 'Things' })).toEqual(["IF OBJECT_ID(N'dbo.Things', N'U') IS NOT NULL DROP TABLE [Things];"]);
    expect(schemaOpSql({ kind: 'renameTable', from: 'Things__r1', to: 'Things' })).toEqual(["EXEC sp_rename N'dbo.Things__r1', N'Things';"]);
  });
});
