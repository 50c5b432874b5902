// The reporting tables of CONTRACT §2 (names, columns and SQL Server types exactly; SQLite takes
// the closest types), plus our bookkeeping: `LastPosition` on every row (the log position of the
// last change applied, which makes replays no-ops), `Resources.UnavailableReason` (whether a
// released resource is Available or Unavailable), and `ProjectionCheckpoints` (how far each
// source has been applied; written in the same transaction as the rows), and `ProjectionPauses`
// (a rebuild asks the live projections to hold their writes for the moment of its swap; the row's
// LastPosition is when the pause ends, in epoch milliseconds, so a crashed rebuild pauses nothing
// for long).
// The projections service applies these migrations itself at start-up; never by hand.
import { POSITION_COLUMN, tablesAfterMigrations, type SqlColumn, type SqlMigration, type SqlPositionGuard, type SqlTable } from '@mes/platform';
import type { ReportTable } from '../domain/reportingRows.js';

const text = (name: string, maxLength: number, nullable = false): SqlColumn => ({ name, type: { kind: 'text', maxLength }, nullable });
const float = (name: string): SqlColumn => ({ name, type: { kind: 'float' } });
const time = (name: string, nullable = false): SqlColumn => ({ name, type: { kind: 'datetime' }, nullable });
const position: SqlColumn = { name: POSITION_COLUMN, type: { kind: 'position' } };

export const CHECKPOINTS_TABLE_NAME = 'ProjectionCheckpoints';
export const PAUSES_TABLE_NAME = 'ProjectionPauses';

export const REPORTING_MIGRATIONS: SqlMigration[] = [
  {
    version: 1,
    description: 'reporting tables of CONTRACT §2 with LastPosition, and projection checkpoints',
    ops: [
      {
        kind: 'createTable',
        table: {
          name: 'MESData',
          columns: [
            text('EventID', 64),
            text('ID', 64),
            text('PlantID', 64),
            text('MachineStatus', 32),
            text('QualityTrend', 32),
            float('ProductionTarget'),
            float('ProductionActual'),
            time('Timestamp'),
            position,
          ],
          primaryKey: ['EventID'],
          indexes: [{ name: 'IX_MESData_Machine_Timestamp', columns: ['PlantID', 'ID', 'Timestamp'] }],
        },
      },
      {
        kind: 'createTable',
        table: {
          name: 'MaintenanceOrders',
          columns: [
            text('OrderID', 64),
            text('MachineID', 64),
            text('PlantID', 64),
            text('Status', 32),
            text('Reason', 400),
            time('CreatedAt'),
            time('UpdatedAt'),
            text('DecidedBy', 256, true),
            time('DecidedAt', true),
            text('TechnicianID', 64, true),
            text('EquipmentID', 64, true),
            position,
          ],
          primaryKey: ['OrderID'],
        },
      },
      {
        kind: 'createTable',
        table: {
          name: 'Resources',
          columns: [
            text('ResourceID', 64),
            text('ResourceType', 32),
            text('PlantID', 64),
            text('Name', 200),
            text('Status', 32),
            text('OrderID', 64, true),
            time('UpdatedAt'),
            text('UnavailableReason', 400, true),
            position,
          ],
          primaryKey: ['ResourceID'],
        },
      },
      {
        kind: 'createTable',
        table: {
          name: 'Approvals',
          columns: [
            text('ApprovalID', 64),
            text('OrderID', 64),
            text('Approver', 256),
            text('Status', 32),
            time('RequestedAt'),
            time('DecidedAt', true),
            text('Comment', 2000, true),
            position,
          ],
          primaryKey: ['ApprovalID'],
        },
      },
      {
        kind: 'createTable',
        table: { name: CHECKPOINTS_TABLE_NAME, columns: [text('Source', 128), position, time('UpdatedAt')], primaryKey: ['Source'] },
      },
      {
        kind: 'createTable',
        table: { name: PAUSES_TABLE_NAME, columns: [text('Name', 64), position, time('UpdatedAt')], primaryKey: ['Name'] },
      },
    ],
  },
  {
    // Rows that exist when this runs keep NULL in both until `mes projections rebuild` fills them
    // from the log (a decision stored before signatures were recorded gets them from its upcaster).
    version: 2,
    description: 'Approvals: ApproverName and Meaning, the manifestation of the approver\'s signature (CONTRACT §2)',
    ops: [
      { kind: 'addColumn', table: 'Approvals', column: text('ApproverName', 200, true) },
      { kind: 'addColumn', table: 'Approvals', column: text('Meaning', 200, true) },
    ],
  },
];

const TABLES = tablesAfterMigrations(REPORTING_MIGRATIONS);

function table(name: string): SqlTable {
  const found = TABLES.get(name);
  if (!found) throw new Error(`the reporting migrations define no table ${name}`);
  return found;
}

export const CHECKPOINTS_TABLE = table(CHECKPOINTS_TABLE_NAME);
export const PAUSES_TABLE = table(PAUSES_TABLE_NAME);

/** Holds while no pause of the live projections lasts beyond `now`. */
export function notPausedGuard(now: Date): SqlPositionGuard {
  return { table: PAUSES_TABLE_NAME, keyColumn: 'Name', keyPrefix: '', atMost: BigInt(now.getTime()) };
}

/** Where each reporting table is written: the live tables, or a rebuild's shadow copies. */
export type ReportTableSet = Record<ReportTable, SqlTable>;

export const LIVE_TABLES: ReportTableSet = {
  MESData: table('MESData'),
  MaintenanceOrders: table('MaintenanceOrders'),
  Resources: table('Resources'),
  Approvals: table('Approvals'),
};

/** Copies of the live tables under `{name}__{suffix}` (indexes too: SQLite index names are global). */
export function shadowTables(suffix: string): ReportTableSet {
  const shadow = (live: SqlTable): SqlTable => ({
    ...live,
    name: `${live.name}__${suffix}`,
    indexes: (live.indexes ?? []).map((index) => ({ ...index, name: `${index.name}__${suffix}` })),
  });
  return {
    MESData: shadow(LIVE_TABLES.MESData),
    MaintenanceOrders: shadow(LIVE_TABLES.MaintenanceOrders),
    Resources: shadow(LIVE_TABLES.Resources),
    Approvals: shadow(LIVE_TABLES.Approvals),
  };
}

/** Matches the names `shadowTables` gives, for cleaning up after an interrupted rebuild. */
export const SHADOW_TABLE_PATTERN = /^(MESData|MaintenanceOrders|Resources|Approvals)__rebuild_[0-9a-z]+$/;
