// What the web console and API clients read: orders, machines, approvals waiting, resources and the
// queue for them, from the reporting tables (CONTRACT §2), plus what only the event log knows (an
// approval's decide-by time, an order's signatures). Eventually consistent with the log, like the
// tables; times are UTC ISO strings.
// One file over 300 lines on purpose: every read the API and the console make of the tables.
import { parseDomainEvent, streamName } from '@mes/contracts';
import type { EventStore, SqlRow, SqlSink } from '@mes/platform';
import { orderSignatures, type OrderSignature } from '../domain/orderSignatures.js';
import { ORDER_STATUSES, type OrderStatus } from '../domain/reportingRows.js';
import { auditOrder, AuditSubjectNotFoundError, type OrderIndex } from './audit.js';
import { LIVE_TABLES } from './reportingSchema.js';

export interface ReportingReadDeps {
  sink: SqlSink;
  eventStore: EventStore;
  orderIndex: OrderIndex;
}

/** Statuses of an order that still needs something: a decision, resources, or the work itself. */
export const OPEN_ORDER_STATUSES: readonly OrderStatus[] = ['PendingApproval', 'Approved', 'AwaitingResources', 'ResourcesAllocated'];
export { ORDER_STATUSES };

export interface OrderView {
  orderId: string;
  plantId: string;
  machineId: string;
  status: string;
  reason: string;
  createdAt: string;
  updatedAt: string;
  decidedBy: string | null;
  decidedAt: string | null;
  technicianId: string | null;
  equipmentId: string | null;
}

export interface ApprovalRowView {
  approvalId: string;
  approver: string;
  status: string;
  requestedAt: string;
  decidedAt: string | null;
  comment: string | null;
}

export interface OrderDetail extends OrderView {
  approvals: ApprovalRowView[];
  signatures: OrderSignature[];
}

export interface ReadingView {
  timestamp: string;
  machineStatus: string;
  qualityTrend: string;
  productionTarget: number;
  productionActual: number;
}

export interface MachineView {
  plantId: string;
  machineId: string;
  lastReading: ReadingView;
  /** Oldest first, the last reading included. */
  recentReadings: ReadingView[];
  openOrder: Pick<OrderView, 'orderId' | 'status' | 'createdAt' | 'reason'> | null;
}

export interface WaitingApproval {
  approvalId: string;
  orderId: string;
  plantId: string;
  machineId: string;
  approver: { email: string; name: string | null };
  /** 0 for the first approver, 1 after one escalation... */
  level: number | null;
  requestedAt: string;
  /** When the request escalates to the next approver, or the order expires after the last one. */
  decideBy: string | null;
}

export interface ResourceView {
  resourceId: string;
  resourceType: string;
  plantId: string;
  name: string;
  status: string;
  orderId: string | null;
  /** The machine of the order holding it. */
  machineId: string | null;
  unavailableReason: string | null;
  updatedAt: string;
}

export interface QueuedOrder {
  orderId: string;
  plantId: string;
  machineId: string;
  status: string;
  /** When it was approved: the queue serves the oldest approval first. */
  approvedAt: string | null;
  waitingSince: string;
}

const text = (value: unknown): string => (typeof value === 'string' ? value : String(value ?? ''));
const nullableText = (value: unknown): string | null => (typeof value === 'string' ? value : null);

function orderView(row: SqlRow): OrderView {
  return {
    orderId: text(row.OrderID),
    plantId: text(row.PlantID),
    machineId: text(row.MachineID),
    status: text(row.Status),
    reason: text(row.Reason),
    createdAt: text(row.CreatedAt),
    updatedAt: text(row.UpdatedAt),
    decidedBy: nullableText(row.DecidedBy),
    decidedAt: nullableText(row.DecidedAt),
    technicianId: nullableText(row.TechnicianID),
    equipmentId: nullableText(row.EquipmentID),
  };
}

function readingView(row: SqlRow): ReadingView {
  return {
    timestamp: text(row.Timestamp),
    machineStatus: text(row.MachineStatus),
    qualityTrend: text(row.QualityTrend),
    productionTarget: Number(row.ProductionTarget),
    productionActual: Number(row.ProductionActual),
  };
}

export interface OrderFilter {
  plantId?: string;
  status?: string;
  machineId?: string;
}

function orderWhere(filter: OrderFilter): SqlRow {
  return {
    ...(filter.plantId === undefined ? {} : { PlantID: filter.plantId }),
    ...(filter.status === undefined ? {} : { Status: filter.status }),
    ...(filter.machineId === undefined ? {} : { MachineID: filter.machineId }),
  };
}

/** Newest first. */
export async function listOrders(deps: Pick<ReportingReadDeps, 'sink'>, filter: OrderFilter, page: { limit: number; offset: number }): Promise<{ orders: OrderView[]; total: number }> {
  const where = orderWhere(filter);
  const [rows, total] = await Promise.all([
    deps.sink.select(LIVE_TABLES.MaintenanceOrders, { where, orderBy: ['CreatedAt', 'OrderID'], descending: true, limit: page.limit, offset: page.offset }),
    deps.sink.count(LIVE_TABLES.MaintenanceOrders, where),
  ]);
  return { orders: rows.map(orderView), total };
}

async function openOrders(sink: SqlSink, plantId: string | undefined): Promise<OrderView[]> {
  const rows = await Promise.all(OPEN_ORDER_STATUSES.map((status) => sink.select(LIVE_TABLES.MaintenanceOrders, { where: { Status: status, ...(plantId === undefined ? {} : { PlantID: plantId }) } })));
  return rows.flat().map(orderView);
}

/** The order's row, its approval requests, and its signatures from the event log; undefined when the table has no such order. */
export async function orderDetail(deps: ReportingReadDeps, orderId: string): Promise<OrderDetail | undefined> {
  const [row] = await deps.sink.select(LIVE_TABLES.MaintenanceOrders, { where: { OrderID: orderId } });
  if (row === undefined) return undefined;
  const order = orderView(row);
  const approvals = (await deps.sink.select(LIVE_TABLES.Approvals, { where: { OrderID: orderId }, orderBy: ['RequestedAt', 'ApprovalID'] })).map((approval) => ({
    approvalId: text(approval.ApprovalID),
    approver: text(approval.Approver),
    status: text(approval.Status),
    requestedAt: text(approval.RequestedAt),
    decidedAt: nullableText(approval.DecidedAt),
    comment: nullableText(approval.Comment),
  }));
  // The table can know an order a moment before the order index does: no signatures yet, then.
  const audit = await auditOrder(deps, orderId).catch((err: unknown) => {
    if (err instanceof AuditSubjectNotFoundError) return undefined;
    throw err;
  });
  return { ...order, approvals, signatures: audit === undefined ? [] : orderSignatures(audit.entries, order) };
}

export async function listMachines(deps: Pick<ReportingReadDeps, 'sink'>, plantId: string | undefined, recent: number): Promise<MachineView[]> {
  const machines = await deps.sink.selectDistinct(LIVE_TABLES.MESData, ['PlantID', 'ID'], plantId === undefined ? undefined : { PlantID: plantId });
  const open = new Map((await openOrders(deps.sink, plantId)).map((order) => [`${order.plantId}/${order.machineId}`, order]));
  const views = await Promise.all(
    machines.map(async (machine): Promise<MachineView | undefined> => {
      const rows = await deps.sink.select(LIVE_TABLES.MESData, { where: { PlantID: machine.PlantID!, ID: machine.ID! }, orderBy: ['Timestamp', 'EventID'], descending: true, limit: recent });
      const readings = rows.map(readingView).reverse();
      const lastReading = readings.at(-1);
      if (lastReading === undefined) return undefined;
      const order = open.get(`${text(machine.PlantID)}/${text(machine.ID)}`);
      return {
        plantId: text(machine.PlantID),
        machineId: text(machine.ID),
        lastReading,
        recentReadings: readings,
        openOrder: order === undefined ? null : { orderId: order.orderId, status: order.status, createdAt: order.createdAt, reason: order.reason },
      };
    }),
  );
  return views.filter((view): view is MachineView => view !== undefined);
}

interface RequestFacts {
  approverName: string | null;
  level: number | null;
  decideBy: string | null;
}

const MAX_REMEMBERED_REQUESTS = 10_000;

/** What an approval request said when it was made (from the event log) never changes: kept, so a refresh reads no stream twice. */
export class ApprovalRequestFacts {
  private readonly known = new Map<string, RequestFacts>();

  constructor(private readonly eventStore: ReportingReadDeps['eventStore']) {}

  async of(plantId: string, orderId: string, approvalId: string): Promise<RequestFacts> {
    const known = this.known.get(approvalId);
    if (known !== undefined) return known;
    const { events } = await this.eventStore.readStream(streamName(plantId, 'approval', orderId));
    let requested: { approver: { name: string }; level: number; decideBy: string } | undefined;
    for (const event of events) {
      if (event.type !== 'ApprovalRequested') continue;
      // Decoded through the contracts, so an older version (v1 named the deadline expiresAt) reads the same.
      const decoded = parseDomainEvent(event.type, event.version, event.data);
      if (decoded.type === 'ApprovalRequested' && decoded.data.approvalId === approvalId) requested = decoded.data;
    }
    const facts = { approverName: requested?.approver.name ?? null, level: requested?.level ?? null, decideBy: requested?.decideBy ?? null };
    if (requested !== undefined) {
      if (this.known.size >= MAX_REMEMBERED_REQUESTS) this.known.clear();
      this.known.set(approvalId, facts);
    }
    return facts;
  }
}

/** Pending approval requests, oldest first, with their approver and decide-by time from the event log. */
export async function approvalsWaiting(deps: Pick<ReportingReadDeps, 'sink'> & { requestFacts: ApprovalRequestFacts }, plantId: string | undefined): Promise<WaitingApproval[]> {
  const pending = await deps.sink.select(LIVE_TABLES.Approvals, { where: { Status: 'Pending' }, orderBy: ['RequestedAt', 'ApprovalID'] });
  const waiting = await Promise.all(
    pending.map(async (row): Promise<WaitingApproval | undefined> => {
      const orderId = text(row.OrderID);
      const [orderRow] = await deps.sink.select(LIVE_TABLES.MaintenanceOrders, { where: { OrderID: orderId } });
      if (orderRow === undefined) return undefined;
      const order = orderView(orderRow);
      if (plantId !== undefined && order.plantId !== plantId) return undefined;
      const approvalId = text(row.ApprovalID);
      const facts = await deps.requestFacts.of(order.plantId, orderId, approvalId);
      return {
        approvalId,
        orderId,
        plantId: order.plantId,
        machineId: order.machineId,
        approver: { email: text(row.Approver), name: facts.approverName },
        level: facts.level,
        requestedAt: text(row.RequestedAt),
        decideBy: facts.decideBy,
      };
    }),
  );
  return waiting.filter((approval): approval is WaitingApproval => approval !== undefined);
}

/** Approvals waiting per plant, for the metric. */
export async function approvalsWaitingPerPlant(deps: Pick<ReportingReadDeps, 'sink'>): Promise<Map<string, number>> {
  const pending = await deps.sink.select(LIVE_TABLES.Approvals, { where: { Status: 'Pending' } });
  const plantOf = new Map((await deps.sink.select(LIVE_TABLES.MaintenanceOrders, { where: { Status: 'PendingApproval' } })).map((row) => [text(row.OrderID), text(row.PlantID)]));
  const perPlant = new Map<string, number>();
  for (const row of pending) {
    const plant = plantOf.get(text(row.OrderID)) ?? 'unknown';
    perPlant.set(plant, (perPlant.get(plant) ?? 0) + 1);
  }
  return perPlant;
}

/** Every technician and piece of equipment with the order holding it, and the approved orders waiting for them, oldest approval first. */
export async function resourcesAndQueue(deps: Pick<ReportingReadDeps, 'sink'>, plantId: string | undefined): Promise<{ resources: ResourceView[]; queue: QueuedOrder[] }> {
  const where: SqlRow = plantId === undefined ? {} : { PlantID: plantId };
  const [resourceRows, open] = await Promise.all([
    deps.sink.select(LIVE_TABLES.Resources, { where, orderBy: ['PlantID', 'ResourceType', 'ResourceID'] }),
    openOrders(deps.sink, plantId),
  ]);
  const orders = new Map(open.map((order) => [order.orderId, order]));
  const resources = resourceRows.map((row): ResourceView => {
    const orderId = nullableText(row.OrderID);
    return {
      resourceId: text(row.ResourceID),
      resourceType: text(row.ResourceType),
      plantId: text(row.PlantID),
      name: text(row.Name),
      status: text(row.Status),
      orderId,
      machineId: orderId === null ? null : (orders.get(orderId)?.machineId ?? null),
      unavailableReason: nullableText(row.UnavailableReason),
      updatedAt: text(row.UpdatedAt),
    };
  });
  const queue = open
    .filter((order) => order.status === 'Approved' || order.status === 'AwaitingResources')
    .sort((a, b) => (a.decidedAt ?? a.updatedAt).localeCompare(b.decidedAt ?? b.updatedAt) || a.orderId.localeCompare(b.orderId))
    .map((order) => ({ orderId: order.orderId, plantId: order.plantId, machineId: order.machineId, status: order.status, approvedAt: order.decidedAt, waitingSince: order.decidedAt ?? order.updatedAt }));
  return { resources, queue };
}
