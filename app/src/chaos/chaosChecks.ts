// What a chaos run must leave behind (CONTRACT §7), checked from the event history, the reporting
// tables and the captured emails. Pure: the run collects the data, these functions judge it.
import { evaluateRules, type PlantsConfig } from '@mes/contracts';
import type { RecordedEvent, SqlRow } from '@mes/platform';
import type { SentReading } from './incidentGenerator.js';

export interface CheckResult {
  name: string;
  ok: boolean;
  /** Figures when it holds; the first offenders when it does not. */
  detail: string;
}

const FIRST = 5;
const sample = (items: readonly string[]) => items.slice(0, FIRST).join('; ') + (items.length > FIRST ? `; ... (${items.length} in all)` : '');

/** Every reading PUBACKed to a device is one MESData row (matched by plant, machine and reading time). */
export function checkAcknowledgedReadings(readings: readonly SentReading[], mesData: readonly SqlRow[]): CheckResult & { inMesData: number } {
  const rows = new Map<string, number>();
  for (const row of mesData) {
    const key = `${String(row.PlantID)}|${String(row.ID)}|${String(row.Timestamp)}`;
    rows.set(key, (rows.get(key) ?? 0) + 1);
  }
  const missing: string[] = [];
  const doubled: string[] = [];
  let inMesData = 0;
  for (const reading of readings) {
    const count = rows.get(`${reading.plantId}|${reading.machineId}|${reading.timestamp}`) ?? 0;
    if (count > 0) inMesData++;
    if (!reading.acknowledged) continue;
    if (count === 0) missing.push(`${reading.machineId} ${reading.machineStatus} at ${reading.timestamp}`);
    if (count > 1) doubled.push(`${reading.machineId} at ${reading.timestamp} (${count} rows)`);
  }
  const acknowledged = readings.filter((r) => r.acknowledged).length;
  const ok = missing.length === 0 && doubled.length === 0;
  return {
    name: 'every acknowledged reading is in MESData exactly once',
    ok,
    inMesData,
    detail: ok ? `${acknowledged} acknowledged, all in MESData once` : `missing ${missing.length}: ${sample(missing)}; more than once ${doubled.length}: ${sample(doubled)}`,
  };
}

/**
 * Every condition change a plant's rules map to maintenance opened exactly one order. Each machine
 * of a run has one incident, so per machine: one such change and one order, and no order without one.
 */
export function checkOneOrderPerIncident(events: readonly RecordedEvent[], plants: PlantsConfig): CheckResult & { orders: number; maintenanceChanges: number } {
  const changes = new Map<string, number>();
  const orders = new Map<string, string[]>();
  for (const event of events) {
    const data = event.data as Record<string, unknown>;
    if (event.type === 'MachineStatusChanged') {
      const plantId = String(data.plantId);
      const reading = data.reading as Parameters<typeof evaluateRules>[1];
      const rules = plants.plants[plantId]?.rules ?? [];
      if (evaluateRules(rules, reading)?.rule.action === 'maintenance') {
        const machine = `${plantId}|${String(data.machineId)}`;
        changes.set(machine, (changes.get(machine) ?? 0) + 1);
      }
    } else if (event.type === 'MaintenanceOrderOpened') {
      const machine = `${String(data.plantId)}|${String(data.machineId)}`;
      orders.set(machine, [...(orders.get(machine) ?? []), String(data.orderId)]);
    }
  }
  const offenders: string[] = [];
  for (const [machine, count] of changes) {
    const opened = orders.get(machine) ?? [];
    if (count !== 1 || opened.length !== 1) offenders.push(`${machine}: ${count} maintenance changes, ${opened.length} orders ${opened.join(',')}`);
  }
  for (const [machine, opened] of orders) if (!changes.has(machine)) offenders.push(`${machine}: orders ${opened.join(',')} without a maintenance change`);
  const orderCount = [...orders.values()].reduce((sum, list) => sum + list.length, 0);
  const maintenanceChanges = [...changes.values()].reduce((sum, n) => sum + n, 0);
  return {
    name: 'each condition change mapped to maintenance opened exactly one order',
    ok: offenders.length === 0,
    orders: orderCount,
    maintenanceChanges,
    detail: offenders.length === 0 ? `${maintenanceChanges} changes, ${orderCount} orders` : sample(offenders),
  };
}

export interface CapturedEmail {
  /** From the link path /approvals/{approvalId}/approve. */
  approvalId: string;
  messageId: string | undefined;
}

/** Each approval request's emails (first send and every resend) carry one Message-ID (CONTRACT §4). */
export function checkOneMessageIdPerRequest(emails: readonly CapturedEmail[]): CheckResult & { requests: number } {
  const ids = new Map<string, Set<string>>();
  for (const email of emails) {
    const set = ids.get(email.approvalId) ?? new Set<string>();
    set.add(email.messageId ?? '(none)');
    ids.set(email.approvalId, set);
  }
  const offenders = [...ids].filter(([, set]) => set.size !== 1 || set.has('(none)')).map(([approvalId, set]) => `${approvalId}: ${[...set].join(' ')}`);
  const resent = emails.length - ids.size;
  return {
    name: "each approval request's emails share one Message-ID",
    ok: offenders.length === 0,
    requests: ids.size,
    detail: offenders.length === 0 ? `${ids.size} requests, ${emails.length} emails (${resent} resent)` : sample(offenders),
  };
}

const ORDER_ENDS = new Set(['MaintenanceOrderCompleted', 'MaintenanceOrderCancelled', 'MaintenanceOrderRejected', 'MaintenanceOrderExpired']);

/**
 * At no point of a plant's history (in log order) was a resource allocated to an order while an
 * order that held it was still open.
 */
export function checkNoResourceInTwoOpenOrders(eventsInLogOrder: readonly RecordedEvent[]): CheckResult & { allocations: number } {
  const ended = new Set<string>();
  const holder = new Map<string, string>();
  const offenders: string[] = [];
  let allocations = 0;
  for (const event of eventsInLogOrder) {
    const data = event.data as Record<string, unknown>;
    if (ORDER_ENDS.has(event.type)) ended.add(String(data.orderId));
    else if (event.type === 'ResourceAllocated') {
      allocations++;
      const resource = `${event.stream}`;
      const previous = holder.get(resource);
      const orderId = String(data.orderId);
      if (previous !== undefined && previous !== orderId && !ended.has(previous)) {
        offenders.push(`${resource} allocated to ${orderId} at position ${event.position} while ${previous} was open`);
      }
      holder.set(resource, orderId);
    }
  }
  return {
    name: 'no resource belonged to two open orders at once',
    ok: offenders.length === 0,
    allocations,
    detail: offenders.length === 0 ? `${allocations} allocations` : sample(offenders),
  };
}

const FINAL = ['Completed', 'Rejected', 'Expired', 'Cancelled'];
const WAITING = ['AwaitingResources', 'ResourcesAllocated'];

/** Every order ended or waits for resources or for its work; none is stuck before or at its decision. */
export function checkOrdersSettled(orders: readonly SqlRow[]): CheckResult & { byStatus: Record<string, number> } {
  const byStatus: Record<string, number> = {};
  for (const order of orders) byStatus[String(order.Status)] = (byStatus[String(order.Status)] ?? 0) + 1;
  const stuck = orders.filter((order) => !FINAL.includes(String(order.Status)) && !WAITING.includes(String(order.Status))).map((order) => `${String(order.OrderID)} ${String(order.Status)}`);
  return {
    name: 'every order reached a final or waiting state',
    ok: stuck.length === 0,
    byStatus,
    detail: stuck.length === 0 ? Object.entries(byStatus).map(([status, n]) => `${status} ${n}`).join(', ') : sample(stuck),
  };
}

/** The live reporting tables equal a rebuild from the log, row for row. */
export function checkTablesEqualRebuild(live: Record<string, readonly SqlRow[]>, rebuilt: Record<string, readonly SqlRow[]>): CheckResult {
  const differences: string[] = [];
  for (const table of Object.keys(live)) {
    const a = live[table] ?? [];
    const b = rebuilt[table] ?? [];
    if (a.length !== b.length) differences.push(`${table}: ${a.length} rows live, ${b.length} rebuilt`);
    const count = Math.max(a.length, b.length);
    for (let i = 0; i < count; i++) {
      if (JSON.stringify(a[i], jsonable) !== JSON.stringify(b[i], jsonable)) {
        differences.push(`${table} row ${i + 1}: live ${JSON.stringify(a[i], jsonable)} rebuilt ${JSON.stringify(b[i], jsonable)}`);
        break;
      }
    }
  }
  return {
    name: 'the SQL tables equal a fresh rebuild',
    ok: differences.length === 0,
    detail: differences.length === 0 ? Object.entries(live).map(([table, rows]) => `${table} ${rows.length}`).join(', ') : sample(differences),
  };
}

function jsonable(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
