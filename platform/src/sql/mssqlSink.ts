// The production SQL sink: SQL Server through `mssql` (tedious). Row ops are sent in batches of
// statements (under SQL Server's 2,100 parameters per request) inside one transaction; an upsert
// is an UPDATE guarded by the position, then an INSERT under a key-range lock when no row exists,
// so two writers racing on a new row serialise (one may be chosen as a deadlock victim: the whole
// write is retried).
// One file on purpose (over 300 lines): the whole SQL Server dialect of the sink port in one place.
import sql from 'mssql';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MssqlLocation } from './openSqlSink.js';
import {
  MIGRATIONS_TABLE,
  POSITION_COLUMN,
  SqlSinkUnavailableError,
  SqlValueError,
  assertMigrations,
  assertOp,
  assertSelectOptions,
  readAppliedMigrations,
  columnOf,
  decodePosition,
  encodePosition,
  encodeValue,
  isWhenNull,
  type AppliedMigration,
  type SqlColumn,
  type SqlColumnType,
  type SqlMigration,
  type SqlOp,
  type SqlPositionGuard,
  type SqlRow,
  type SqlSelectOptions,
  type SqlSink,
  type SqlTable,
  type SqlValue,
  type SqlWriteOptions,
} from './sqlSink.js';

/** Below SQL Server's limit of 2,100 parameters per request. */
const MAX_PARAMS_PER_REQUEST = 2_000;
/** Deadlock victim, duplicate key (a racing insert), lock timeout: the write is tried again. */
const RETRYABLE_ERRORS = new Set([1205, 2601, 2627, 1222]);
const MAX_ATTEMPTS = 5;

const q = (name: string) => `[${name}]`;

export function mssqlType(type: SqlColumnType): string {
  switch (type.kind) {
    case 'text':
      return type.maxLength <= 4000 ? `NVARCHAR(${type.maxLength})` : 'NVARCHAR(MAX)';
    case 'float':
      return 'FLOAT';
    case 'integer':
      return 'BIGINT';
    case 'datetime':
      return 'DATETIME2';
    case 'position':
      return 'VARCHAR(40)';
    default: {
      const _exhaustive: never = type;
      return _exhaustive;
    }
  }
}

function driverType(type: SqlColumnType): sql.ISqlType | (() => sql.ISqlType) {
  switch (type.kind) {
    case 'text':
      return type.maxLength <= 4000 ? sql.NVarChar(type.maxLength) : sql.NVarChar(sql.MAX);
    case 'float':
      return sql.Float;
    case 'integer':
      return sql.BigInt;
    case 'datetime':
      return sql.DateTime2(7);
    case 'position':
      return sql.VarChar(40);
    default: {
      const _exhaustive: never = type;
      return _exhaustive;
    }
  }
}

interface Param {
  name: string;
  type: sql.ISqlType | (() => sql.ISqlType);
  value: string | number | Date | null;
}

/** A piece of T-SQL and its parameters, numbered from the batch's running counter. */
export class MssqlBatch {
  private readonly parts: string[] = [];
  readonly params: Param[] = [];

  param(column: SqlColumn, table: SqlTable, value: SqlValue): string {
    const encoded = encodeValue(table, column, value);
    const name = `p${this.params.length}`;
    this.params.push({ name, type: driverType(column.type), value: encoded !== null && column.type.kind === 'datetime' ? new Date(encoded) : encoded });
    return `@${name}`;
  }

  add(statement: string): void {
    this.parts.push(statement);
  }

  get text(): string {
    return this.parts.join('\n');
  }

  get empty(): boolean {
    return this.parts.length === 0;
  }
}

export function createTableSql(table: SqlTable): string[] {
  const columns = table.columns.map((c) => `${q(c.name)} ${mssqlType(c.type)} ${c.nullable ? 'NULL' : 'NOT NULL'}`);
  // The primary key constraint is left unnamed: names are unique per schema, and a rebuild's shadow
  // table is renamed to the live name.
  return [
    `CREATE TABLE ${q(table.name)} (${columns.join(', ')}, PRIMARY KEY (${table.primaryKey.map(q).join(', ')}));`,
    ...(table.indexes ?? []).map((index) => `CREATE INDEX ${q(index.name)} ON ${q(table.name)} (${index.columns.map(q).join(', ')});`),
  ];
}

/** How many parameters the statements of one row op take. */
function paramCount(op: Extract<SqlOp, { kind: 'upsert' | 'update' | 'delete' }>): number {
  if (op.kind === 'delete') return Object.keys(op.key).length;
  const values = Object.values(op.values).reduce<number>((n, value) => n + (isWhenNull(value) ? 2 : 1), 0);
  return 1 + Object.keys(op.key).length + values + (op.kind === 'upsert' ? Object.keys(op.insertOnly ?? {}).length : 0);
}

/** The statements of one row op, appended to `batch`. Exported for the unit tests of the generated T-SQL. */
export function rowOpSql(op: Extract<SqlOp, { kind: 'upsert' | 'update' | 'delete' }>, batch: MssqlBatch): void {
  const { table } = op;
  if (op.kind === 'delete') {
    const condition = Object.entries(op.key).map(([name, value]) => `${q(name)} = ${batch.param(columnOf(table, name), table, value)}`);
    batch.add(`DELETE FROM ${q(table.name)} WHERE ${condition.join(' AND ')};`);
    return;
  }
  const position = batch.param(columnOf(table, POSITION_COLUMN), table, op.position);
  const keys = Object.entries(op.key).map(([name, value]) => [name, batch.param(columnOf(table, name), table, value)] as const);
  const keyCondition = keys.map(([name, param]) => `${q(name)} = ${param}`).join(' AND ');
  if (op.kind === 'update') {
    const sets = Object.entries(op.values).map(([name, value]) => {
      const column = columnOf(table, name);
      if (isWhenNull(value)) {
        columnOf(table, value.whenNull);
        return `${q(name)} = CASE WHEN ${q(value.whenNull)} IS NULL THEN ${batch.param(column, table, value.then)} ELSE ${batch.param(column, table, value.otherwise)} END`;
      }
      return `${q(name)} = ${batch.param(column, table, value)}`;
    });
    sets.push(`${q(POSITION_COLUMN)} = ${position}`);
    batch.add(`UPDATE ${q(table.name)} SET ${sets.join(', ')} WHERE ${keyCondition} AND ${q(POSITION_COLUMN)} < ${position};`);
    return;
  }
  const values = Object.entries(op.values).map(([name, value]) => [name, batch.param(columnOf(table, name), table, value)] as const);
  const insertOnly = Object.entries(op.insertOnly ?? {}).map(([name, value]) => [name, batch.param(columnOf(table, name), table, value)] as const);
  const sets = [...values.map(([name, param]) => `${q(name)} = ${param}`), `${q(POSITION_COLUMN)} = ${position}`];
  const inserted = [...keys, ...values, ...insertOnly];
  batch.add(
    `UPDATE ${q(table.name)} SET ${sets.join(', ')} WHERE ${keyCondition} AND ${q(POSITION_COLUMN)} < ${position};\n` +
      `IF @@ROWCOUNT = 0 AND NOT EXISTS (SELECT 1 FROM ${q(table.name)} WITH (UPDLOCK, HOLDLOCK) WHERE ${keyCondition})\n` +
      `  INSERT INTO ${q(table.name)} (${[...inserted.map(([name]) => q(name)), q(POSITION_COLUMN)].join(', ')}) VALUES (${[...inserted.map(([, param]) => param), position].join(', ')});`,
  );
}

export function schemaOpSql(op: Exclude<SqlOp, { kind: 'upsert' | 'update' | 'delete' }>): string[] {
  switch (op.kind) {
    case 'createTable':
      return createTableSql(op.table);
    case 'dropTable':
      return [`IF OBJECT_ID(N'dbo.${op.name}', N'U') IS NOT NULL DROP TABLE ${q(op.name)};`];
    case 'renameTable':
      return [`EXEC sp_rename N'dbo.${op.from}', N'${op.to}';`];
    case 'addColumn':
      return [`ALTER TABLE ${q(op.table)} ADD ${q(op.column.name)} ${mssqlType(op.column.type)} NULL;`];
    case 'createIndex':
      return [`CREATE INDEX ${q(op.index.name)} ON ${q(op.table)} (${op.index.columns.map(q).join(', ')});`];
    default: {
      const _exhaustive: never = op;
      throw new Error(`unknown op ${JSON.stringify(_exhaustive)}`);
    }
  }
}

function isRowOp(op: SqlOp): op is Extract<SqlOp, { kind: 'upsert' | 'update' | 'delete' }> {
  return op.kind === 'upsert' || op.kind === 'update' || op.kind === 'delete';
}

function errorNumber(err: unknown): number | undefined {
  const number = (err as { number?: unknown }).number ?? (err as { originalError?: { info?: { number?: unknown } } }).originalError?.info?.number;
  return typeof number === 'number' ? number : undefined;
}

class GuardFailed extends Error {}

export class MssqlSink implements SqlSink {
  readonly dialect = 'mssql' as const;

  private constructor(private readonly pool: sql.ConnectionPool, readonly location: string) {}

  static async open(location: MssqlLocation): Promise<MssqlSink> {
    const pool = new sql.ConnectionPool({
      server: location.server,
      port: location.port,
      database: location.database,
      user: location.user,
      password: location.password,
      options: { encrypt: location.encrypt, trustServerCertificate: location.trustServerCertificate, useUTC: true },
      pool: { max: 10 },
    });
    const where = `mssql://${location.server}:${location.port}/${location.database}`;
    // Without a listener a dropped connection's 'error' event would crash the process.
    pool.on('error', () => undefined);
    try {
      await pool.connect();
    } catch (err) {
      throw new SqlSinkUnavailableError(`cannot connect to SQL Server at ${where} as ${location.user}: ${(err as Error).message}`, { cause: err });
    }
    return new MssqlSink(pool, where);
  }

  /** Runs `work` in a transaction, retrying the whole of it on a deadlock or a lost insert race. */
  private async transaction<T>(work: (tx: sql.Transaction) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const tx = new sql.Transaction(this.pool);
      try {
        await tx.begin(sql.ISOLATION_LEVEL.READ_COMMITTED);
      } catch (err) {
        throw new SqlSinkUnavailableError(`${this.location}: cannot begin a transaction: ${(err as Error).message}`, { cause: err });
      }
      try {
        const result = await work(tx);
        await tx.commit();
        return result;
      } catch (err) {
        await tx.rollback().catch(() => undefined);
        const number = errorNumber(err);
        if (number !== undefined && RETRYABLE_ERRORS.has(number) && attempt < MAX_ATTEMPTS) {
          await sleep(20 * 2 ** attempt + Math.random() * 50);
          continue;
        }
        if (err instanceof GuardFailed || err instanceof SqlValueError || number !== undefined) throw err;
        throw new SqlSinkUnavailableError(`${this.location}: ${(err as Error).message}`, { cause: err });
      }
    }
  }

  private async execute(tx: sql.Transaction, batch: MssqlBatch): Promise<sql.IResult<Record<string, unknown>>> {
    const request = new sql.Request(tx);
    for (const param of batch.params) request.input(param.name, param.type, param.value);
    return request.query(batch.text);
  }

  private async runOps(tx: sql.Transaction, ops: readonly SqlOp[]): Promise<void> {
    let batch = new MssqlBatch();
    const flush = async () => {
      if (!batch.empty) await this.execute(tx, batch);
      batch = new MssqlBatch();
    };
    for (const op of ops) {
      if (!isRowOp(op)) {
        await flush();
        for (const statement of schemaOpSql(op)) await new sql.Request(tx).batch(statement);
        continue;
      }
      // One op never straddles two requests.
      if (batch.params.length + paramCount(op) > MAX_PARAMS_PER_REQUEST && !batch.empty) await flush();
      rowOpSql(op, batch);
    }
    await flush();
  }

  private async checkGuard(tx: sql.Transaction, guard: SqlPositionGuard): Promise<void> {
    const request = new sql.Request(tx);
    request.input('length', sql.Int, guard.keyPrefix.length);
    request.input('prefix', sql.NVarChar(256), guard.keyPrefix);
    request.input('position', sql.VarChar(40), encodePosition(guard.atMost));
    const result = await request.query<{ n: number }>(
      `SELECT COUNT(*) AS n FROM ${q(guard.table)} WITH (UPDLOCK, HOLDLOCK) WHERE LEFT(${q(guard.keyColumn)}, @length) = @prefix AND ${q(POSITION_COLUMN)} > @position;`,
    );
    if ((result.recordset[0]?.n ?? 0) > 0) throw new GuardFailed();
  }

  async migrate(migrations: readonly SqlMigration[]): Promise<number[]> {
    assertMigrations(migrations);
    const applied: number[] = [];
    for (const migration of migrations) {
      migration.ops.forEach(assertOp);
      const done = await this.transaction(async (tx) => {
        // One migrator at a time across every process; the lock ends with the transaction.
        await new sql.Request(tx).batch(`EXEC sp_getapplock @Resource = N'mes-schema-migrations', @LockMode = N'Exclusive', @LockOwner = N'Transaction', @LockTimeout = 60000;`);
        await new sql.Request(tx).batch(`IF OBJECT_ID(N'dbo.${MIGRATIONS_TABLE.name}', N'U') IS NULL\nBEGIN\n${createTableSql(MIGRATIONS_TABLE).join('\n')}\nEND`);
        const exists = await new sql.Request(tx).input('version', sql.BigInt, migration.version).query(`SELECT 1 AS found FROM ${q(MIGRATIONS_TABLE.name)} WHERE [Version] = @version;`);
        if (exists.recordset.length > 0) return false;
        await this.runOps(tx, migration.ops);
        await new sql.Request(tx)
          .input('version', sql.BigInt, migration.version)
          .input('description', sql.NVarChar(200), migration.description)
          .input('appliedAt', sql.DateTime2(7), new Date())
          .query(`INSERT INTO ${q(MIGRATIONS_TABLE.name)} ([Version], [Description], [AppliedAt]) VALUES (@version, @description, @appliedAt);`);
        return true;
      });
      if (done) applied.push(migration.version);
    }
    return applied;
  }

  appliedMigrations(): Promise<AppliedMigration[]> {
    return readAppliedMigrations(this);
  }

  async write(ops: readonly SqlOp[], options: SqlWriteOptions = {}): Promise<boolean> {
    ops.forEach(assertOp);
    try {
      await this.transaction(async (tx) => {
        for (const table of options.lockTables ?? []) {
          await new sql.Request(tx).batch(`SELECT TOP 0 1 AS locked FROM ${q(table)} WITH (TABLOCKX, HOLDLOCK);`);
        }
        for (const guard of options.guards ?? []) await this.checkGuard(tx, guard);
        await this.runOps(tx, ops);
      });
      return true;
    } catch (err) {
      if (err instanceof GuardFailed) return false;
      throw err;
    }
  }

  private whereClause(request: sql.Request, table: SqlTable, where: SqlRow = {}): string {
    const conditions: string[] = [];
    Object.entries(where).forEach(([name, value], index) => {
      const column = columnOf(table, name);
      if (value === null) {
        conditions.push(`${q(name)} IS NULL`);
        return;
      }
      const encoded = encodeValue(table, column, value);
      request.input(`w${index}`, driverType(column.type), column.type.kind === 'datetime' && encoded !== null ? new Date(encoded) : encoded);
      conditions.push(`${q(name)} = @w${index}`);
    });
    return conditions.length > 0 ? ` WHERE ${conditions.join(' AND ')}` : '';
  }

  private async query(request: sql.Request, text: string): Promise<Record<string, unknown>[]> {
    try {
      return (await request.query<Record<string, unknown>>(text)).recordset;
    } catch (err) {
      if (errorNumber(err) !== undefined) throw err;
      throw new SqlSinkUnavailableError(`${this.location}: ${(err as Error).message}`, { cause: err });
    }
  }

  async select(table: SqlTable, options: SqlSelectOptions = {}): Promise<SqlRow[]> {
    assertSelectOptions(table, options);
    const request = this.pool.request();
    const direction = options.descending ? ' DESC' : '';
    const orderBy = options.orderBy ?? [];
    const paged = options.limit !== undefined || options.offset !== undefined;
    const text =
      `SELECT ${table.columns.map((c) => q(c.name)).join(', ')} FROM ${q(table.name)}${this.whereClause(request, table, options.where)}` +
      (orderBy.length > 0 ? ` ORDER BY ${orderBy.map((name) => `${q(columnOf(table, name).name)}${direction}`).join(', ')}` : '') +
      (paged ? ` OFFSET ${options.offset ?? 0} ROWS${options.limit === undefined ? '' : ` FETCH NEXT ${options.limit} ROWS ONLY`}` : '');
    return (await this.query(request, text)).map((row) => decodeRow(table, row));
  }

  async count(table: SqlTable, where?: SqlRow): Promise<number> {
    const request = this.pool.request();
    const [row] = await this.query(request, `SELECT COUNT_BIG(*) AS n FROM ${q(table.name)}${this.whereClause(request, table, where)}`);
    return Number(row?.n ?? 0);
  }

  async selectDistinct(table: SqlTable, columns: readonly string[], where?: SqlRow): Promise<SqlRow[]> {
    const picked = columns.map((name) => columnOf(table, name));
    if (picked.length === 0) throw new Error(`selectDistinct from ${table.name} names no column`);
    const request = this.pool.request();
    const names = picked.map((c) => q(c.name)).join(', ');
    const rows = await this.query(request, `SELECT DISTINCT ${names} FROM ${q(table.name)}${this.whereClause(request, table, where)} ORDER BY ${names}`);
    const only: SqlTable = { ...table, columns: picked };
    return rows.map((row) => decodeRow(only, row));
  }

  async listTables(): Promise<string[]> {
    const result = await this.pool.request().query<{ name: string }>(`SELECT name FROM sys.tables ORDER BY name;`);
    return result.recordset.map((row) => row.name);
  }

  async ping(): Promise<void> {
    try {
      await this.pool.request().query('SELECT 1 AS ok;');
    } catch (err) {
      throw new SqlSinkUnavailableError(`${this.location}: ${(err as Error).message}`, { cause: err });
    }
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

function decodeRow(table: SqlTable, row: Record<string, unknown>): SqlRow {
  const decoded: SqlRow = {};
  for (const column of table.columns) {
    const value = row[column.name];
    if (value === null || value === undefined) {
      decoded[column.name] = null;
      continue;
    }
    switch (column.type.kind) {
      case 'datetime':
        decoded[column.name] = value instanceof Date ? value.toISOString() : new Date(String(value)).toISOString();
        break;
      case 'position':
        decoded[column.name] = decodePosition(String(value));
        break;
      case 'integer':
        // tedious returns BIGINT as a string.
        decoded[column.name] = Number(value);
        break;
      case 'float':
        decoded[column.name] = Number(value);
        break;
      case 'text':
        decoded[column.name] = String(value);
        break;
      default: {
        const _exhaustive: never = column.type;
        decoded[column.name] = _exhaustive;
      }
    }
  }
  return decoded;
}

