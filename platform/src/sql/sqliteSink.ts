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

export class SqliteSink implements SqlSink {
  readonly dialect = 'sqlite' as const;
  private readonly statements = new Map<string, Database.Statement>();
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

  private run(sql: string, params: Param[] = []): Database.RunResult {
    return this.statement(sql).run(...params);
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
    ops.forEach(assertOp);
    try {
      this.db.transaction(() => {
        for (const guard of options.guards ?? []) this.checkGuard(guard);
        for (const op of ops) this.runOp(op);
      }).immediate();
      return true;
    } catch (err) {
      if (err instanceof GuardFailed) return false;
      throw this.translate(err);
    } finally {
      // DDL (a rebuild's swap) makes cached statements of the old tables stale.
      if (ops.some((op) => op.kind !== 'upsert' && op.kind !== 'update' && op.kind !== 'delete')) this.statements.clear();
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
    const row = this.db
      .prepare(`SELECT COUNT(*) AS n FROM ${q(guard.table)} WHERE substr(${q(guard.keyColumn)}, 1, ?) = ? AND ${q(POSITION_COLUMN)} > ?`)
      .get(guard.keyPrefix.length, guard.keyPrefix, encodePosition(guard.atMost)) as { n: number };
    if (row.n > 0) throw new GuardFailed();
  }

  private runOp(op: SqlOp, ifNotExists = false): void {
    switch (op.kind) {
      case 'upsert': {
        const { table } = op;
        const keyNames = Object.keys(op.key);
        const valueNames = Object.keys(op.values);
        const insertOnlyNames = Object.keys(op.insertOnly ?? {});
        const names = [...keyNames, ...valueNames, ...insertOnlyNames, POSITION_COLUMN];
        const params: Param[] = [
          ...keyNames.map((name) => encodeValue(table, columnOf(table, name), op.key[name]!)),
          ...valueNames.map((name) => encodeValue(table, columnOf(table, name), op.values[name]!)),
          ...insertOnlyNames.map((name) => encodeValue(table, columnOf(table, name), op.insertOnly![name]!)),
          encodeValue(table, columnOf(table, POSITION_COLUMN), op.position),
        ];
        const updates = [...valueNames, POSITION_COLUMN].map((name) => `${q(name)} = excluded.${q(name)}`).join(', ');
        this.run(
          `INSERT INTO ${q(table.name)} (${names.map(q).join(', ')}) VALUES (${names.map(() => '?').join(', ')}) ` +
            `ON CONFLICT (${keyNames.map(q).join(', ')}) DO UPDATE SET ${updates} ` +
            `WHERE ${q(table.name)}.${q(POSITION_COLUMN)} < excluded.${q(POSITION_COLUMN)}`,
          params,
        );
        return;
      }
      case 'update': {
        const { table } = op;
        const sets: string[] = [];
        const params: Param[] = [];
        for (const [name, value] of Object.entries(op.values)) {
          const column = columnOf(table, name);
          if (isWhenNull(value)) {
            columnOf(table, value.whenNull);
            sets.push(`${q(name)} = CASE WHEN ${q(value.whenNull)} IS NULL THEN ? ELSE ? END`);
            params.push(encodeValue(table, column, value.then), encodeValue(table, column, value.otherwise));
          } else {
            sets.push(`${q(name)} = ?`);
            params.push(encodeValue(table, column, value));
          }
        }
        const position = encodeValue(table, columnOf(table, POSITION_COLUMN), op.position);
        sets.push(`${q(POSITION_COLUMN)} = ?`);
        params.push(position);
        const keyNames = Object.keys(op.key);
        params.push(...keyNames.map((name) => encodeValue(table, columnOf(table, name), op.key[name]!)), position);
        this.run(`UPDATE ${q(table.name)} SET ${sets.join(', ')} WHERE ${keyNames.map((name) => `${q(name)} = ?`).join(' AND ')} AND ${q(POSITION_COLUMN)} < ?`, params);
        return;
      }
      case 'delete': {
        const keyNames = Object.keys(op.key);
        this.run(
          `DELETE FROM ${q(op.table.name)} WHERE ${keyNames.map((name) => `${q(name)} = ?`).join(' AND ')}`,
          keyNames.map((name) => encodeValue(op.table, columnOf(op.table, name), op.key[name]!)),
        );
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
