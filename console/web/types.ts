// The shapes of the API's answers the console reads (see the README's HTTP section).

export type Topic = 'orders' | 'machines' | 'approvals' | 'resources' | 'deadLetters' | 'projections';

export const ORDER_STATUSES = ['PendingApproval', 'Approved', 'Rejected', 'Expired', 'AwaitingResources', 'ResourcesAllocated', 'Completed', 'Cancelled'] as const;
export const OPEN_ORDER_STATUSES: readonly string[] = ['PendingApproval', 'Approved', 'AwaitingResources', 'ResourcesAllocated'];

export interface Reading {
  timestamp: string;
  machineStatus: string;
  qualityTrend: string;
  productionTarget: number;
  productionActual: number;
}

export interface Machine {
  plantId: string;
  machineId: string;
  lastReading: Reading;
  recentReadings: Reading[];
  openOrder: { orderId: string; status: string; createdAt: string; reason: string } | null;
}

export interface Order {
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

export interface Signature {
  approvalId: string;
  decision: 'approved' | 'rejected';
  name: string;
  email: string;
  signedAt: string;
  meaning: string;
  comment: string | null;
}

export interface OrderDetail extends Order {
  approvals: { approvalId: string; approver: string; status: string; requestedAt: string; decidedAt: string | null; comment: string | null }[];
  signatures: Signature[];
}

/** One entry of an order's history (GET /api/orders/{orderId}/audit; services/projections' AuditEntry). */
export interface AuditEntry {
  /** ISO-8601 instant in UTC. */
  time: string;
  timeZone: 'UTC';
  eventType: string;
  eventVersion: number;
  actor: { kind: string; id: string; name?: string };
  /** The actor in words, e.g. `Alice Novak <alice@plant1.example>`, `API client erp`. */
  who: string;
  /** The status or value it changed; `from` null for something new; null when it changed none. */
  change: { subject: string; from: string | null; to: string } | null;
  why: string | null;
  summary: string;
  data: unknown;
  stream: string;
  eventId: string;
  position: string;
  correlationId: string;
  causationId: string | null;
  hash: string | null;
  previousHash: string | null;
}

/** The hash chains of the streams an order's history was read from. */
export interface ChainCheck {
  ok: boolean;
  verifiedEvents: number;
  streams: number;
  firstBreak?: { stream: string; position: string; eventId: string; reason: string };
}

export interface OrderAudit {
  orderId: string;
  plantId: string;
  machineId: string;
  workflowId: string;
  entries: AuditEntry[];
  streams: string[];
  /** Absent from a server that does not check the chains for this answer. */
  chain?: ChainCheck;
}

export interface WaitingApproval {
  approvalId: string;
  orderId: string;
  plantId: string;
  machineId: string;
  approver: { email: string; name: string | null };
  level: number | null;
  requestedAt: string;
  decideBy: string | null;
}

export interface Resource {
  resourceId: string;
  resourceType: string;
  plantId: string;
  name: string;
  status: string;
  orderId: string | null;
  machineId: string | null;
  unavailableReason: string | null;
  updatedAt: string;
}

export interface QueuedOrder {
  orderId: string;
  plantId: string;
  machineId: string;
  status: string;
  approvedAt: string | null;
  waitingSince: string;
}

export interface DeadLetter {
  sequence: number;
  topic: string;
  payload: string;
  encoding: 'utf8' | 'base64';
  truncated: boolean;
  reason: string;
  receivedAt: string;
  plantId?: string;
}

export interface ProjectionSourceStatus {
  source: string;
  kind: string;
  plantId: string | null;
  checkpoint: string | null;
  end: string | null;
  behind: number | null;
  upToDate: boolean | null;
  applied: number;
  lastCommittedAt: string | null;
  failingSince: string | null;
  lastError: string | null;
}

export interface ProjectionsStatus {
  sql: { location: string; dialect: string; reachable: boolean; error?: string };
  sources: ProjectionSourceStatus[];
}
