// Every row of the reporting tables, in key order: what tests compare between the live tables,
// a rebuild, and an uninterrupted run.
import type { SqlRow, SqlSink } from '@mes/platform';
import { LIVE_TABLES } from '../application/reportingSchema.js';
import { REPORT_TABLES, type ReportTable } from '../domain/reportingRows.js';

export type ReportingSnapshot = Record<ReportTable, SqlRow[]>;

export async function reportingSnapshot(sink: SqlSink): Promise<ReportingSnapshot> {
  const entries = await Promise.all(REPORT_TABLES.map(async (name) => [name, await sink.select(LIVE_TABLES[name], { orderBy: LIVE_TABLES[name].primaryKey })] as const));
  return Object.fromEntries(entries) as ReportingSnapshot;
}

export function rowCounts(snapshot: ReportingSnapshot): Record<ReportTable, number> {
  return Object.fromEntries(REPORT_TABLES.map((name) => [name, snapshot[name].length])) as Record<ReportTable, number>;
}
