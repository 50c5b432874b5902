// SQL_URL (CONTRACT §6) to a SQL sink: `sqlite:PATH` (embedded default) or
// `mssql://user:password@host:1433/database`. The adapters are loaded only when chosen, so a
// process that never writes SQL never loads the native SQLite module or the SQL Server driver.
import { isAbsolute, resolve } from 'node:path';
import type { SqlSink } from './sqlSink.js';

export interface SqliteLocation {
  kind: 'sqlite';
  /** Absolute path, or `:memory:`. */
  path: string;
}

export interface MssqlLocation {
  kind: 'mssql';
  server: string;
  port: number;
  database: string;
  user: string;
  password: string;
  /** `?encrypt=false` for a server without TLS; default true (the driver's default). */
  encrypt: boolean;
  /** `?trustServerCertificate=true` for a self-signed certificate (development, containers). */
  trustServerCertificate: boolean;
}

export type SqlLocation = SqliteLocation | MssqlLocation;

function flag(params: URLSearchParams, name: string, fallback: boolean): boolean {
  const value = params.get(name);
  if (value === null) return fallback;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new Error(`SQL_URL: ${name} must be true or false (got "${value}")`);
}

/** Reads SQL_URL; a relative SQLite path is resolved from `cwd` (the process's working directory by default). */
export function parseSqlUrl(url: string, cwd: string = process.cwd()): SqlLocation {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    if (path === '') throw new Error('SQL_URL: sqlite: needs a path, e.g. sqlite:./data/mes.sqlite');
    return { kind: 'sqlite', path: path === ':memory:' ? path : isAbsolute(path) ? path : resolve(cwd, path) };
  }
  if (url.startsWith('mssql://')) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new Error('SQL_URL: not a URL of the form mssql://user:password@host:1433/database');
    }
    const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
    if (parsed.hostname === '' || database === '' || database.includes('/') || parsed.username === '') {
      throw new Error('SQL_URL: use mssql://user:password@host:1433/database (user, host and database are required)');
    }
    return {
      kind: 'mssql',
      server: parsed.hostname,
      port: parsed.port === '' ? 1433 : Number(parsed.port),
      database,
      user: decodeURIComponent(parsed.username),
      password: decodeURIComponent(parsed.password),
      encrypt: flag(parsed.searchParams, 'encrypt', true),
      trustServerCertificate: flag(parsed.searchParams, 'trustServerCertificate', false),
    };
  }
  throw new Error('SQL_URL must be sqlite:PATH or mssql://user:password@host:1433/database');
}

export interface OpenSqlSinkOptions {
  /** Base of a relative SQLite path; default the process's working directory. */
  cwd?: string;
}

/** Opens (and for SQLite creates, with its directories) the database SQL_URL names. */
export async function openSqlSink(url: string, options: OpenSqlSinkOptions = {}): Promise<SqlSink> {
  const location = parseSqlUrl(url, options.cwd);
  if (location.kind === 'sqlite') {
    const { SqliteSink } = await import('./sqliteSink.js');
    return SqliteSink.open(location.path);
  }
  const { MssqlSink } = await import('./mssqlSink.js');
  return MssqlSink.open(location);
}
