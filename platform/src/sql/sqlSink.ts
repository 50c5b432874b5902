// The SQL sink port: where projections keep the reporting tables of CONTRACT §2. Tables are
// described as data and written with a handful of idempotent row operations, so the two adapters
// (SQLite, SQL Server) share one small dialect surface and one contract test suite.
//
// Idempotency by position: every row written with `upsert` or `update` remembers, in its
// `LastPosition` column, the log position of the last change applied to it, and a change at a
// position not after that one is ignored. A redelivered or replayed event therefore changes
// nothing, and two writers applying the same ordered log can never move a row backwards.
// One file on purpose (over 300 lines): the port's types, positions and row-op semantics together.

/** The bookkeeping column of every row written with `upsert` / `update`. */
export const POSITION_COLUMN = 'LastPosition';

export type SqlColumnType =
  /** NVARCHAR(maxLength) on SQL Server, TEXT on SQLite; longer values are refused on both. */
  | { kind: 'text'; maxLength: number }
  /** FLOAT / REAL. */
  | { kind: 'float' }
  /** BIGINT / INTEGER, read back as a JavaScript number. */
  | { kind: 'integer' }
  /** DATETIME2 (UTC) / TEXT `YYYY-MM-DDTHH:MM:SS.sssZ`; written from and read back as that ISO string. */
  | { kind: 'datetime' }
  /** A log position (unsigned, up to 128 bits): VARCHAR(40) / TEXT, zero-padded so text order is log order. */
  | { kind: 'position' };

export interface SqlColumn {
  name: string;
  type: SqlColumnType;
  /** Default false: NOT NULL. */
  nullable?: boolean;
}

export interface SqlIndex {
  name: string;
  columns: string[];
}

export interface SqlTable {
  name: string;
  columns: SqlColumn[];
  primaryKey: string[];
  indexes?: SqlIndex[];
}

/** `bigint` only for `position` columns; datetimes travel as ISO-8601 strings. */
export type SqlValue = string | number | bigint | null;

/** `CASE WHEN {whenNull} IS NULL THEN {then} ELSE {otherwise} END`, on the row as it was before the update. */
export interface SqlWhenNull {
  whenNull: string;
  then: SqlValue;
  otherwise: SqlValue;
}

export type SqlAssignment = SqlValue | SqlWhenNull;

export type SqlRow = Record<string, SqlValue>;

export type SqlOp =
  /**
   * Inserts the row (key, values, insertOnly, position) if there is none; otherwise sets `values`
   * and the position when the row's position is before `position`. `insertOnly` is written only on insert.
   */
  | { kind: 'upsert'; table: SqlTable; key: SqlRow; values: SqlRow; insertOnly?: SqlRow; position: bigint }
  /** Sets `values` and the position on the row when it exists and its position is before `position`. */
  | { kind: 'update'; table: SqlTable; key: SqlRow; values: Record<string, SqlAssignment>; position: bigint }
  /** Deletes the row with this key, if there is one. */
  | { kind: 'delete'; table: SqlTable; key: SqlRow }
  | { kind: 'createTable'; table: SqlTable }
  /** Drops the table if it exists. */
  | { kind: 'dropTable'; name: string }
  | { kind: 'renameTable'; from: string; to: string }
  /** The column must be nullable: existing rows get NULL. */
  | { kind: 'addColumn'; table: string; column: SqlColumn }
  | { kind: 'createIndex'; table: string; index: SqlIndex };

/** Holds when no row of `table` whose `keyColumn` starts with `keyPrefix` has a position after `atMost`. */
export interface SqlPositionGuard {
  table: string;
  keyColumn: string;
  keyPrefix: string;
  atMost: bigint;
}

export interface SqlWriteOptions {
  /**
   * Tables to lock exclusively before the guards are checked, so no other writer can commit to them
   * until this write ends (SQLite locks the whole database for every write anyway).
   */
  lockTables?: string[];
  /** Checked inside the transaction, before any op; if one fails nothing is written. */
  guards?: SqlPositionGuard[];
}

export interface SqlSelectOptions {
  where?: SqlRow;
  orderBy?: string[];
  /** Orders by every `orderBy` column descending (newest first, for times). */
  descending?: boolean;
  /** At most this many rows (a whole number from 1); needs `orderBy`, so pages are stable. */
  limit?: number;
  /** Skips this many rows first (a whole number from 0); needs `orderBy`. */
  offset?: number;
}

/** Checks paging options once for both adapters: whole numbers, and an order to page by. */
export function assertSelectOptions(table: SqlTable, options: SqlSelectOptions): void {
  for (const name of [...Object.keys(options.where ?? {}), ...(options.orderBy ?? [])]) columnOf(table, name);
  if (options.limit !== undefined && !(Number.isSafeInteger(options.limit) && options.limit >= 1)) throw new Error(`select from ${table.name}: limit must be a whole number from 1 (got ${options.limit})`);
  if (options.offset !== undefined && !(Number.isSafeInteger(options.offset) && options.offset >= 0)) throw new Error(`select from ${table.name}: offset must be a whole number from 0 (got ${options.offset})`);
  if ((options.limit !== undefined || options.offset !== undefined) && (options.orderBy ?? []).length === 0) throw new Error(`select from ${table.name}: limit and offset need orderBy`);
}

/** One schema change, applied once per database and recorded in `SchemaMigrations`. */
export interface SqlMigration {
  /** 1, 2, 3...: applied in order, each exactly once. */
  version: number;
  description: string;
  /** Schema ops only (createTable, addColumn, createIndex, dropTable, renameTable). */
  ops: SqlOp[];
}

export interface AppliedMigration {
  version: number;
  description: string;
  appliedAt: string;
}

export const MIGRATIONS_TABLE: SqlTable = {
  name: 'SchemaMigrations',
  columns: [
    { name: 'Version', type: { kind: 'integer' } },
    { name: 'Description', type: { kind: 'text', maxLength: 200 } },
    { name: 'AppliedAt', type: { kind: 'datetime' } },
  ],
  primaryKey: ['Version'],
};

export type SqlDialect = 'sqlite' | 'mssql';

export interface SqlSink {
  readonly dialect: SqlDialect;
  /** Where the tables are, without credentials (for logs and messages). */
  readonly location: string;
  /**
   * Applies the migrations not yet recorded, in version order, each in its own transaction with its
   * record; safe when several processes start at once. Returns the versions applied now.
   */
  migrate(migrations: readonly SqlMigration[]): Promise<number[]>;
  appliedMigrations(): Promise<AppliedMigration[]>;
  /** Applies `ops` in order in one transaction. False (and nothing written) when a guard did not hold. */
  write(ops: readonly SqlOp[], options?: SqlWriteOptions): Promise<boolean>;
  select(table: SqlTable, options?: SqlSelectOptions): Promise<SqlRow[]>;
  /** How many rows match `where` (all rows without it). */
  count(table: SqlTable, where?: SqlRow): Promise<number>;
  /** The distinct combinations of `columns` among the rows matching `where`, ordered by `columns`. */
  selectDistinct(table: SqlTable, columns: readonly string[], where?: SqlRow): Promise<SqlRow[]>;
  /** Names of the user tables. */
  listTables(): Promise<string[]>;
  /** Resolves when the database answers. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The migrations recorded in a sink, oldest first; none before the first migration ran. */
export async function readAppliedMigrations(sink: Pick<SqlSink, 'listTables' | 'select'>): Promise<AppliedMigration[]> {
  if (!(await sink.listTables()).includes(MIGRATIONS_TABLE.name)) return [];
  const rows = await sink.select(MIGRATIONS_TABLE, { orderBy: ['Version'] });
  return rows.map((row) => ({ version: row.Version as number, description: row.Description as string, appliedAt: row.AppliedAt as string }));
}

/** A value does not fit its column (too long, wrong kind, not a time): a bug or bad data, never transient. */
export class SqlValueError extends Error {
  readonly code = 'SQL_VALUE_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'SqlValueError';
  }
}

/** The database could not be reached or refused the statement for a reason other than the values. */
export class SqlSinkUnavailableError extends Error {
  readonly code = 'SQL_UNAVAILABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SqlSinkUnavailableError';
  }
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** Table, column and index names are spliced into SQL, so they are held to plain identifiers. */
export function assertIdentifier(what: string, name: string): void {
  if (!IDENTIFIER.test(name)) throw new Error(`${what} ${JSON.stringify(name)} is not a plain SQL identifier (letters, digits, _; at most 128)`);
}

/** Digits of 2^128 - 1: every position is padded to this width. */
const POSITION_DIGITS = 39;
const MAX_POSITION = (1n << 128n) - 1n;

export function encodePosition(position: bigint): string {
  if (position < 0n || position > MAX_POSITION) throw new SqlValueError(`position ${position} is outside 0 .. 2^128-1`);
  return position.toString().padStart(POSITION_DIGITS, '0');
}

export function decodePosition(text: string): bigint {
  if (!/^\d{1,39}$/.test(text)) throw new SqlValueError(`stored position ${JSON.stringify(text)} is not a padded decimal`);
  return BigInt(text);
}

export function columnOf(table: SqlTable, name: string): SqlColumn {
  const column = table.columns.find((c) => c.name === name);
  if (!column) throw new Error(`table ${table.name} has no column ${name}`);
  return column;
}

/** `Table.Column`, for messages: built only when a value is refused (encodeValue runs for every cell written). */
function cellName(table: SqlTable, column: SqlColumn): string {
  return `${table.name}.${column.name}`;
}

const DIGIT_POSITIONS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22];
const SEPARATORS: readonly [number, number][] = [[4, 0x2d], [7, 0x2d], [10, 0x54], [13, 0x3a], [16, 0x3a], [19, 0x2e], [23, 0x5a]]; // - - T : : . Z

function digits(text: string, from: number, count: number): number {
  let n = 0;
  for (let i = from; i < from + count; i++) n = n * 10 + text.charCodeAt(i) - 0x30;
  return n;
}

function daysInMonth(year: number, month: number): number {
  if (month !== 2) return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
}

/**
 * `YYYY-MM-DDTHH:MM:SS.sssZ` naming a real instant (no 24:00, no 30 February, which Date.parse
 * rolls over): exactly the texts that `new Date(Date.parse(text)).toISOString()` gives back unchanged.
 */
export function isCanonicalUtc(text: string): boolean {
  if (text.length !== 24) return false;
  for (const [at, code] of SEPARATORS) if (text.charCodeAt(at) !== code) return false;
  for (const at of DIGIT_POSITIONS) {
    const code = text.charCodeAt(at);
    if (code < 0x30 || code > 0x39) return false;
  }
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(digits(text, 0, 4), month) && digits(text, 11, 2) <= 23 && digits(text, 14, 2) <= 59 && digits(text, 17, 2) <= 59;
}

/**
 * Checks a value against its column and turns it into what both dialects store for it: text for
 * `position` (padded) and `datetime` (normalised to UTC with milliseconds), numbers as numbers.
 * SQL Server's adapter turns the datetime text into a Date afterwards.
 */
export function encodeValue(table: SqlTable, column: SqlColumn, value: SqlValue): string | number | null {
  if (value === null) {
    if (!column.nullable) throw new SqlValueError(`${cellName(table, column)} must not be NULL`);
    return null;
  }
  switch (column.type.kind) {
    case 'text':
      if (typeof value !== 'string') throw new SqlValueError(`${cellName(table, column)} takes text (got ${typeof value})`);
      if (value.length > column.type.maxLength) {
        throw new SqlValueError(`${cellName(table, column)} holds at most ${column.type.maxLength} characters (got ${value.length})`);
      }
      return value;
    case 'float':
    case 'integer':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw new SqlValueError(`${cellName(table, column)} takes a finite number (got ${String(value)})`);
      if (column.type.kind === 'integer' && !Number.isSafeInteger(value)) throw new SqlValueError(`${cellName(table, column)} takes a whole number (got ${value})`);
      return value;
    case 'datetime': {
      if (typeof value !== 'string') throw new SqlValueError(`${cellName(table, column)} takes an ISO-8601 time (got ${typeof value})`);
      // Most times arrive as toISOString wrote them: nothing to normalise (and toISOString is slow).
      if (isCanonicalUtc(value)) return value;
      const ms = Date.parse(value);
      if (Number.isNaN(ms)) throw new SqlValueError(`${cellName(table, column)} takes an ISO-8601 time (got ${JSON.stringify(value)})`);
      return new Date(ms).toISOString();
    }
    case 'position':
      if (typeof value !== 'bigint') throw new SqlValueError(`${cellName(table, column)} takes a position as a bigint (got ${typeof value})`);
      return encodePosition(value);
    default: {
      const _exhaustive: never = column.type;
      return _exhaustive;
    }
  }
}

/** The tables as the migrations leave them, by name: what a fresh copy (e.g. a rebuild's shadow table) is created from. */
export function tablesAfterMigrations(migrations: readonly SqlMigration[]): Map<string, SqlTable> {
  const tables = new Map<string, SqlTable>();
  for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
    for (const op of migration.ops) {
      switch (op.kind) {
        case 'createTable':
          tables.set(op.table.name, op.table);
          break;
        case 'dropTable':
          tables.delete(op.name);
          break;
        case 'renameTable': {
          const table = tables.get(op.from);
          tables.delete(op.from);
          if (table) tables.set(op.to, { ...table, name: op.to });
          break;
        }
        case 'addColumn': {
          const table = tables.get(op.table);
          if (table) tables.set(op.table, { ...table, columns: [...table.columns, op.column] });
          break;
        }
        case 'createIndex': {
          const table = tables.get(op.table);
          if (table) tables.set(op.table, { ...table, indexes: [...(table.indexes ?? []), op.index] });
          break;
        }
        case 'upsert':
        case 'update':
        case 'delete':
          throw new Error(`migration ${migration.version} (${migration.description}) holds a row op; migrations change the schema only`);
        default: {
          const _exhaustive: never = op;
          throw new Error(`unknown op ${JSON.stringify(_exhaustive)}`);
        }
      }
    }
  }
  return tables;
}

/** Checks the migrations list once, before anything is applied: versions unique and ascending from 1. */
export function assertMigrations(migrations: readonly SqlMigration[]): void {
  const versions = migrations.map((m) => m.version);
  versions.forEach((version, index) => {
    if (version !== index + 1) throw new Error(`migrations must be numbered 1, 2, 3... in order; found ${versions.join(', ')}`);
  });
  tablesAfterMigrations(migrations);
}

/** Tables already found valid: ops name the same few table objects over and over. */
const validTables = new WeakSet<SqlTable>();

export function assertTable(table: SqlTable): void {
  if (validTables.has(table)) return;
  assertIdentifier('table', table.name);
  for (const column of table.columns) assertIdentifier(`column of ${table.name}`, column.name);
  for (const key of table.primaryKey) columnOf(table, key);
  for (const index of table.indexes ?? []) {
    assertIdentifier('index', index.name);
    for (const column of index.columns) columnOf(table, column);
  }
  // Tables are data that nobody changes in place (a changed schema is a new object), so once is enough.
  validTables.add(table);
}

/** Checks an op's names and that every column it writes exists. */
export function assertOp(op: SqlOp): void {
  switch (op.kind) {
    case 'upsert':
    case 'update':
      assertTable(op.table);
      columnOf(op.table, POSITION_COLUMN);
      for (const name of [...Object.keys(op.key), ...Object.keys(op.values), ...Object.keys(op.kind === 'upsert' ? (op.insertOnly ?? {}) : {})]) {
        columnOf(op.table, name);
      }
      if (Object.keys(op.key).length === 0) throw new Error(`${op.kind} of ${op.table.name} names no key`);
      return;
    case 'delete':
      assertTable(op.table);
      for (const name of Object.keys(op.key)) columnOf(op.table, name);
      if (Object.keys(op.key).length === 0) throw new Error(`delete from ${op.table.name} names no key`);
      return;
    case 'createTable':
      assertTable(op.table);
      return;
    case 'dropTable':
      assertIdentifier('table', op.name);
      return;
    case 'renameTable':
      assertIdentifier('table', op.from);
      assertIdentifier('table', op.to);
      return;
    case 'addColumn':
      assertIdentifier('table', op.table);
      assertIdentifier('column', op.column.name);
      if (!op.column.nullable) throw new Error(`column ${op.table}.${op.column.name} is added to existing rows, so it must be nullable`);
      return;
    case 'createIndex':
      assertIdentifier('table', op.table);
      assertIdentifier('index', op.index.name);
      for (const column of op.index.columns) assertIdentifier('column', column);
      return;
    default: {
      const _exhaustive: never = op;
      throw new Error(`unknown op ${JSON.stringify(_exhaustive)}`);
    }
  }
}

export function isWhenNull(value: SqlAssignment): value is SqlWhenNull {
  return typeof value === 'object' && value !== null && 'whenNull' in value;
}
