// The embedded SQL sink: one SQLite file through better-sqlite3 (12.x: 13 needs Node 22). WAL
// mode, so reporting tools can read while the projections write; each write is one
// `BEGIN IMMEDIATE` transaction, run synchronously, so nothing else in the process can interleave
// with it and another process waits (busy timeout) instead of failing.
// One file over 300 lines on purpose: the SQLite adapter of the sink port, whole.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  MIGRATIONS_TABLE,
  POSITION_COLUMN,
  SqlSinkUnavailableError,
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

/** How long a write waits for another process's transaction before it fails. */
const BUSY_TIMEOUT_MS = 30_000;
const STATEMENT_CACHE_LIMIT = 500;

const q = (name: string) => `"${name}"`;

function sqliteType(type: SqlColumnType): string {
  switch (type.kind) {
    case 'text':
    case 'datetime':
    case 'position':
      return 'TEXT';
    case 'float':
      return 'REAL';
    case 'integer':
      return 'INTEGER';
    default: {
      const _exhaustive: never = type;
      return _exhaustive;
    }
  }
}

class GuardFailed extends Error {}

type Param = string | number | null;

/** A row op's statement for one table and one shape (which columns it names), with how to fill it in. */
interface RowPlan {
  statement: Database.Statement;
  params(op: SqlOp): Param[];
}

type RowOp = Extract<SqlOp, { kind: 'upsert' | 'update' | 'delete' }>;

const isRowOp = (op: SqlOp): op is RowOp => op.kind === 'upsert' || op.kind === 'update' || op.kind === 'delete';

/** What decides a row op's SQL text: its kind and the columns it names, in order. */
function shapeOf(op: RowOp): string {
  let shape = `${op.kind}|`;
  for (const name in op.key) shape += `${name},`;
  if (op.kind === 'delete') return shape;
  shape += '|';
  for (const name in op.values) {
    const value = op.values[name]!;
    shape += isWhenNull(value) ? `${name}?${value.whenNull},` : `${name},`;
  }
  if (op.kind === 'upsert' && op.insertOnly) {
    shape += '|';
    for (const name in op.insertOnly) shape += `${name},`;
  }
  return shape;
}

export class SqliteSink implements SqlSink {
  readonly dialect = 'sqlite' as const;
  private readonly statements = new Map<string, Database.Statement>();
  /** Row ops' plans per table object and shape: the SQL is built and its columns checked once. */
  private readonly plans = new Map<SqlTable, Map<string, RowPlan>>();
  private planCount = 0;
  private closed = false;

  private constructor(private readonly db: Database.Database, readonly location: string) {}

  static open(path: string): SqliteSink {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    let db: Database.Database;
    try {
      db = new Database(path);
    } catch (err) {
      throw new SqlSinkUnavailableError(`cannot open SQLite database ${path}: ${(err as Error).message}`, { cause: err });
    }
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma('journal_mode = WAL');
    // With WAL, NORMAL loses no committed transaction when the process dies, only on power loss.
    db.pragma('synchronous = NORMAL');
    // 64 MiB of page cache (the default is 2 MiB): a rebuild of millions of rows keeps its B-trees in memory.
    db.pragma('cache_size = -65536');
    return new SqliteSink(db, `sqlite:${path}`);
  }

  private statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      if (this.statements.size >= STATEMENT_CACHE_LIMIT) this.statements.clear();
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  private ensureMigrationsTable(): void {
    this.runOp({ kind: 'createTable', table: MIGRATIONS_TABLE }, true);
  }

  async migrate(migrations: readonly SqlMigration[]): Promise<number[]> {
    assertMigrations(migrations);
    const applied: number[] = [];
    for (const migration of migrations) {
      migration.ops.forEach(assertOp);
      const done = this.db.transaction(() => {
        this.ensureMigrationsTable();
        // Re-read inside the write lock: another process may have just applied it.
        const exists = this.db.prepare(`SELECT 1 FROM ${q(MIGRATIONS_TABLE.name)} WHERE "Version" = ?`).get(migration.version);
        if (exists) return false;
        for (const op of migration.ops) this.runOp(op);
        this.db
          .prepare(`INSERT INTO ${q(MIGRATIONS_TABLE.name)} ("Version", "Description", "AppliedAt") VALUES (?, ?, ?)`)
          .run(migration.version, migration.description, new Date().toISOString());
        return true;
      }).immediate();
      if (done) applied.push(migration.version);
    }
    return applied;
  }

  appliedMigrations(): Promise<AppliedMigration[]> {
    return readAppliedMigrations(this);
  }

  async write(ops: readonly SqlOp[], options: SqlWriteOptions = {}): Promise<boolean> {
    const schemaChange = !ops.every(isRowOp);
    if (schemaChange) ops.forEach(assertOp);
    try {
      // Row ops only (the projections' batches): each through its plan, built and checked once per
      // shape. A write that changes the schema prepares its row statements as it goes, after the DDL.
      const plans = schemaChange ? undefined : (ops as readonly RowOp[]).map((op) => this.planOf(op));
      this.db.transaction(() => {
        for (const guard of options.guards ?? []) this.checkGuard(guard);
        if (plans) {
          for (let i = 0; i < plans.length; i++) plans[i]!.statement.run(...plans[i]!.params(ops[i]!));
        } else {
          for (const op of ops) this.runOp(op);
        }
      }).immediate();
      return true;
    } catch (err) {
      if (err instanceof GuardFailed) return false;
      throw this.translate(err);
    } finally {
      // DDL (a rebuild's swap) makes cached statements of the old tables stale.
      if (schemaChange) this.forgetStatements();
    }
  }

  private forgetStatements(): void {
    this.statements.clear();
    this.plans.clear();
    this.planCount = 0;
  }

  private planOf(op: RowOp): RowPlan {
    let byShape = this.plans.get(op.table);
    const shape = shapeOf(op);
    let plan = byShape?.get(shape);
    if (plan) return plan;
    assertOp(op);
    if (this.planCount >= STATEMENT_CACHE_LIMIT) this.forgetStatements();
    plan = this.buildPlan(op);
    byShape = this.plans.get(op.table);
    if (!byShape) this.plans.set(op.table, (byShape = new Map()));
    byShape.set(shape, plan);
    this.planCount++;
    return plan;
  }

  /** The statement of a row op of this shape, and how to turn such an op into its parameters (checked and encoded). */
  private buildPlan(op: RowOp): RowPlan {
    const { table } = op;
    const keyNames = Object.keys(op.key);
    const keyColumns = keyNames.map((name) => columnOf(table, name));
    const encodeKey = (key: SqlRow, params: Param[]) => {
      for (let i = 0; i < keyNames.length; i++) params.push(encodeValue(table, keyColumns[i]!, key[keyNames[i]!]!));
    };
    switch (op.kind) {
      case 'upsert': {
        const valueNames = Object.keys(op.values);
        const valueColumns = valueNames.map((name) => columnOf(table, name));
        const insertOnlyNames = Object.keys(op.insertOnly ?? {});
        const insertOnlyColumns = insertOnlyNames.map((name) => columnOf(table, name));
        const positionColumn = columnOf(table, POSITION_COLUMN);
        const names = [...keyNames, ...valueNames, ...insertOnlyNames, POSITION_COLUMN];
        const updates = [...valueNames, POSITION_COLUMN].map((name) => `${q(name)} = excluded.${q(name)}`).join(', ');
        const statement = this.statement(
          `INSERT INTO ${q(table.name)} (${names.map(q).join(', ')}) VALUES (${names.map(() => '?').join(', ')}) ` +
            `ON CONFLICT (${keyNames.map(q).join(', ')}) DO UPDATE SET ${updates} ` +
            `WHERE ${q(table.name)}.${q(POSITION_COLUMN)} < excluded.${q(POSITION_COLUMN)}`,
        );
        return {
          statement,
          params: (o) => {
            const upsert = o as Extract<SqlOp, { kind: 'upsert' }>;
            const params: Param[] = [];
            encodeKey(upsert.key, params);
            for (let i = 0; i < valueNames.length; i++) params.push(encodeValue(table, valueColumns[i]!, upsert.values[valueNames[i]!]!));
            for (let i = 0; i < insertOnlyNames.length; i++) params.push(encodeValue(table, insertOnlyColumns[i]!, upsert.insertOnly![insertOnlyNames[i]!]!));
            params.push(encodeValue(table, positionColumn, upsert.position));
            return params;
          },
        };
      }
      case 'update': {
        const valueNames = Object.keys(op.values);
        const valueColumns = valueNames.map((name) => columnOf(table, name));
        const positionColumn = columnOf(table, POSITION_COLUMN);
        const sets = valueNames.map((name) => {
          const value = op.values[name]!;
          if (!isWhenNull(value)) return `${q(name)} = ?`;
          columnOf(table, value.whenNull);
          return `${q(name)} = CASE WHEN ${q(value.whenNull)} IS NULL THEN ? ELSE ? END`;
        });
        sets.push(`${q(POSITION_COLUMN)} = ?`);
        const statement = this.statement(`UPDATE ${q(table.name)} SET ${sets.join(', ')} WHERE ${keyNames.map((name) => `${q(name)} = ?`).join(' AND ')} AND ${q(POSITION_COLUMN)} < ?`);
        return {
          statement,
          params: (o) => {
            const update = o as Extract<SqlOp, { kind: 'update' }>;
            const params: Param[] = [];
            for (let i = 0; i < valueNames.length; i++) {
              const value = update.values[valueNames[i]!]!;
              const column = valueColumns[i]!;
              if (isWhenNull(value)) params.push(encodeValue(table, column, value.then), encodeValue(table, column, value.otherwise));
              else params.push(encodeValue(table, column, value));
            }
            const position = encodeValue(table, positionColumn, update.position);
            params.push(position);
            encodeKey(update.key, params);
            params.push(position);
            return params;
          },
        };
      }
      case 'delete': {
        const statement = this.statement(`DELETE FROM ${q(table.name)} WHERE ${keyNames.map((name) => `${q(name)} = ?`).join(' AND ')}`);
        return {
          statement,
          params: (o) => {
            const params: Param[] = [];
            encodeKey((o as Extract<SqlOp, { kind: 'delete' }>).key, params);
            return params;
          },
        };
      }
      default: {
        const _exhaustive: never = op;
        throw new Error(`unknown op ${JSON.stringify(_exhaustive)}`);
      }
    }
  }

  private translate(err: unknown): unknown {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_IOERR') || code === 'SQLITE_FULL' || code.startsWith('SQLITE_CANTOPEN'))) {
      return new SqlSinkUnavailableError(`${this.location}: ${(err as Error).message}`, { cause: err });
    }
    return err;
  }

  private checkGuard(guard: SqlPositionGuard): void {
    // Through the statement cache: the projections check a guard in every batch.
    const row = this.statement(`SELECT COUNT(*) AS n FROM ${q(guard.table)} WHERE substr(${q(guard.keyColumn)}, 1, ?) = ? AND ${q(POSITION_COLUMN)} > ?`)
      .get(guard.keyPrefix.length, guard.keyPrefix, encodePosition(guard.atMost)) as { n: number };
    if (row.n > 0) throw new GuardFailed();
  }

  private runOp(op: SqlOp, ifNotExists = false): void {
    switch (op.kind) {
      case 'upsert':
      case 'update':
      case 'delete': {
        const plan = this.planOf(op);
        plan.statement.run(...plan.params(op));
        return;
      }
      case 'createTable': {
        const { table } = op;
        const columns = table.columns.map((c) => `${q(c.name)} ${sqliteType(c.type)}${c.nullable ? '' : ' NOT NULL'}`);
        this.db.exec(`CREATE TABLE ${ifNotExists ? 'IF NOT EXISTS ' : ''}${q(table.name)} (${columns.join(', ')}, PRIMARY KEY (${table.primaryKey.map(q).join(', ')}))`);
        for (const index of table.indexes ?? []) {
          this.db.exec(`CREATE INDEX ${ifNotExists ? 'IF NOT EXISTS ' : ''}${q(index.name)} ON ${q(table.name)} (${index.columns.map(q).join(', ')})`);
        }
        return;
      }
      case 'dropTable':
        this.db.exec(`DROP TABLE IF EXISTS ${q(op.name)}`);
        return;
      case 'renameTable':
        this.db.exec(`ALTER TABLE ${q(op.from)} RENAME TO ${q(op.to)}`);
        return;
      case 'addColumn':
        this.db.exec(`ALTER TABLE ${q(op.table)} ADD COLUMN ${q(op.column.name)} ${sqliteType(op.column.type)}`);
        return;
      case 'createIndex':
        this.db.exec(`CREATE INDEX ${q(op.index.name)} ON ${q(op.table)} (${op.index.columns.map(q).join(', ')})`);
        return;
      default: {
        const _exhaustive: never = op;
        throw new Error(`unknown op ${JSON.stringify(_exhaustive)}`);
      }
    }
  }

  private whereClause(table: SqlTable, where: SqlRow = {}): { sql: string; params: Param[] } {
    const entries = Object.entries(where);
    const params = entries.filter(([, value]) => value !== null).map(([name, value]) => encodeValue(table, columnOf(table, name), value));
    const conditions = entries.map(([name, value]) => (value === null ? `${q(name)} IS NULL` : `${q(name)} = ?`));
    return { sql: conditions.length > 0 ? ` WHERE ${conditions.join(' AND ')}` : '', params };
  }

  async select(table: SqlTable, options: SqlSelectOptions = {}): Promise<SqlRow[]> {
    assertSelectOptions(table, options);
    const where = this.whereClause(table, options.where);
    const direction = options.descending ? ' DESC' : '';
    const orderBy = options.orderBy ?? [];
    const sql =
      `SELECT ${table.columns.map((c) => q(c.name)).join(', ')} FROM ${q(table.name)}${where.sql}` +
      (orderBy.length > 0 ? ` ORDER BY ${orderBy.map((name) => `${q(columnOf(table, name).name)}${direction}`).join(', ')}` : '') +
      (options.limit !== undefined || options.offset !== undefined ? ` LIMIT ${options.limit ?? -1} OFFSET ${options.offset ?? 0}` : '');
    const rows = this.db.prepare(sql).all(...where.params) as Record<string, string | number | null>[];
    return rows.map((row) => decodeRow(table, row));
  }

  async count(table: SqlTable, where?: SqlRow): Promise<number> {
    const clause = this.whereClause(table, where);
    const row = this.db.prepare(`SELECT COUNT(*) AS n FROM ${q(table.name)}${clause.sql}`).get(...clause.params) as { n: number };
    return row.n;
  }

  async selectDistinct(table: SqlTable, columns: readonly string[], where?: SqlRow): Promise<SqlRow[]> {
    const picked = columns.map((name) => columnOf(table, name));
    if (picked.length === 0) throw new Error(`selectDistinct from ${table.name} names no column`);
    const clause = this.whereClause(table, where);
    const names = picked.map((c) => q(c.name)).join(', ');
    const rows = this.db.prepare(`SELECT DISTINCT ${names} FROM ${q(table.name)}${clause.sql} ORDER BY ${names}`).all(...clause.params) as Record<string, string | number | null>[];
    const only: SqlTable = { ...table, columns: picked };
    return rows.map((row) => decodeRow(only, row));
  }

  async listTables(): Promise<string[]> {
    const rows = this.db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`).all() as { name: string }[];
    return rows.map((row) => row.name);
  }

  async ping(): Promise<void> {
    if (this.closed) throw new SqlSinkUnavailableError(`${this.location} is closed`);
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.statements.clear();
    this.db.close();
  }
}

function decodeRow(table: SqlTable, row: Record<string, string | number | null>): SqlRow {
  const decoded: SqlRow = {};
  for (const column of table.columns) {
    const value = row[column.name] ?? null;
    decoded[column.name] = value !== null && column.type.kind === 'position' ? decodePosition(String(value)) : (value as SqlValue);
  }
  return decoded;
}
