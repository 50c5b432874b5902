// What changed in the reporting tables, in a few words per row, for the console's live updates:
// a notice is sent once the rows are committed, so a client that reads after it sees the change.
import type { SqlOp } from '@mes/platform';

export type ChangeTopic = 'orders' | 'machines' | 'approvals' | 'resources' | 'deadLetters' | 'projections';

export interface ChangeNotice {
  topic: ChangeTopic;
  plantId?: string;
  /** The order, machine, approval or resource id. */
  id?: string;
}

const asText = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

function noticeOf(op: SqlOp): ChangeNotice | undefined {
  if (op.kind !== 'upsert' && op.kind !== 'update') return undefined;
  const plantId = asText((op.values as Record<string, unknown>).PlantID);
  const withPlant = (notice: ChangeNotice): ChangeNotice => (plantId === undefined ? notice : { ...notice, plantId });
  switch (op.table.name) {
    case 'MESData':
      return withPlant({ topic: 'machines', ...(asText(op.values.ID) === undefined ? {} : { id: asText(op.values.ID)! }) });
    case 'MaintenanceOrders':
      return withPlant({ topic: 'orders', id: String(op.key.OrderID) });
    case 'Approvals':
      return { topic: 'approvals', id: String(op.key.ApprovalID) };
    case 'Resources':
      return withPlant({ topic: 'resources', id: String(op.key.ResourceID) });
    default:
      return undefined;
  }
}

/** One notice per changed row (repeats dropped), then one for the projections' progress. */
export function changeNoticesOf(ops: readonly SqlOp[]): ChangeNotice[] {
  const seen = new Set<string>();
  const notices: ChangeNotice[] = [];
  for (const op of ops) {
    const notice = noticeOf(op);
    if (notice === undefined) continue;
    const key = `${notice.topic}/${notice.plantId ?? ''}/${notice.id ?? ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    notices.push(notice);
  }
  notices.push({ topic: 'projections' });
  return notices;
}
