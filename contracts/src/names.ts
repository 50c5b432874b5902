// NATS subject and stream names. Every subject carries the plant id right after its prefix, so a
// consumer can be narrowed to one plant with a single `filter_subject` (see PLANTS in CONTRACT §6).

/** Plant and machine ids, as CONTRACT §1 allows them in MQTT topics. */
export const IDENTIFIER_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** One token of a NATS subject or event-store stream name: no dots, wildcards or spaces. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/** `config`: the recorded versions of a plant's configuration, one stream per plant (`plantConfigStream`). */
export const STREAM_CATEGORIES = ['machine', 'order', 'approval', 'resource', 'workflow', 'config'] as const;
export type StreamCategory = (typeof STREAM_CATEGORIES)[number];

/** JetStream stream holding the event store (one subject per aggregate stream). */
export const EVENTS_STREAM = 'MES_EVENTS';
export const EVENTS_SUBJECT_PREFIX = 'es';
/** JetStream stream holding every accepted telemetry reading. */
export const TELEMETRY_STREAM = 'MES_TELEMETRY';
export const TELEMETRY_SUBJECT_PREFIX = 'telemetry';
/** JetStream stream carrying commands between services. */
export const COMMANDS_STREAM = 'MES_COMMANDS';
export const COMMANDS_SUBJECT_PREFIX = 'cmd';
/** JetStream stream of rejected telemetry (CONTRACT §1 dead letters). */
export const DEAD_LETTERS_STREAM = 'MES_DEAD_LETTERS';
export const DEAD_LETTERS_SUBJECT_PREFIX = 'deadletter';
/** Token standing in for a plant id that could not be read from a rejected message's topic. */
export const UNKNOWN_PLANT = '_unknown';

/** JetStream stream of durable workflow timeouts, held back until due. */
export const TIMERS_STREAM = 'MES_TIMERS';
export const TIMERS_SUBJECT_PREFIX = 'timer';

/** KV bucket `{plantId}.{machineId}` -> the id of the machine's open workflow (one at a time). */
export const OPEN_WORKFLOWS_BUCKET = 'mes_open_workflows';
/** KV bucket `{orderId}` -> `{ plantId, machineId, workflowId }`, to find an order's streams by its id. */
export const ORDER_INDEX_BUCKET = 'mes_order_index';

/** KV bucket with each machine's last known condition (ingest). */
export const MACHINE_CONDITIONS_BUCKET = 'mes_machine_conditions';

function assertToken(what: string, value: string): void {
  if (!TOKEN_PATTERN.test(value)) {
    throw new Error(`${what} "${value}" is not a valid name token: use 1-128 of A-Z a-z 0-9 _ -`);
  }
}

/** Name of an aggregate's event stream: `{plantId}.{category}.{id}`, e.g. `P1.order.MO_123`. */
export function streamName(plantId: string, category: StreamCategory, id: string): string {
  assertToken('plant id', plantId);
  assertToken('stream id', id);
  return `${plantId}.${category}.${id}`;
}

/** What the names of one category of a plant's streams begin with: `{plantId}.{category}` (then `.{id}`). */
export function streamCategoryPrefix(plantId: string, category: StreamCategory): string {
  assertToken('plant id', plantId);
  if (!(STREAM_CATEGORIES as readonly string[]).includes(category)) throw new Error(`"${category}" is not a stream category (${STREAM_CATEGORIES.join(', ')})`);
  return `${plantId}.${category}`;
}

/** The stream of a plant's configuration versions (CONTRACT §3): `{plantId}.config.{plantId}`. */
export function plantConfigStream(plantId: string): string {
  return streamName(plantId, 'config', plantId);
}

export interface ParsedStreamName {
  plantId: string;
  category: StreamCategory;
  id: string;
}

export function parseStreamName(name: string): ParsedStreamName {
  const [plantId, category, id, ...rest] = name.split('.');
  if (
    plantId === undefined || category === undefined || id === undefined || rest.length > 0 ||
    !TOKEN_PATTERN.test(plantId) || !TOKEN_PATTERN.test(id) ||
    !(STREAM_CATEGORIES as readonly string[]).includes(category)
  ) {
    throw new Error(`"${name}" is not a stream name of the form {plantId}.{category}.{id}`);
  }
  return { plantId, category: category as StreamCategory, id };
}

/** Subject filter for every event of one plant (or all plants with `*`), or of one category of its streams. */
export function plantEventsFilter(plantId: string | '*', category?: StreamCategory): string {
  if (plantId !== '*') assertToken('plant id', plantId);
  return category === undefined ? `${EVENTS_SUBJECT_PREFIX}.${plantId}.>` : `${EVENTS_SUBJECT_PREFIX}.${plantId}.${category}.>`;
}

export function telemetrySubject(plantId: string, machineId: string): string {
  assertToken('plant id', plantId);
  assertToken('machine id', machineId);
  return `${TELEMETRY_SUBJECT_PREFIX}.${plantId}.${machineId}`;
}

/** Subject of a command for one service, e.g. `cmd.P1.maintenance.OpenMaintenanceOrder`. */
export function commandSubject(plantId: string, service: string, commandType: string): string {
  assertToken('plant id', plantId);
  assertToken('service', service);
  assertToken('command type', commandType);
  return `${COMMANDS_SUBJECT_PREFIX}.${plantId}.${service}.${commandType}`;
}

export function deadLetterSubject(plantId: string | undefined): string {
  const token = plantId !== undefined && TOKEN_PATTERN.test(plantId) ? plantId : UNKNOWN_PLANT;
  return `${DEAD_LETTERS_SUBJECT_PREFIX}.${token}`;
}

/** Subject filter for every command addressed to one service in one plant. */
export function serviceCommandsFilter(plantId: string, service: string): string {
  assertToken('plant id', plantId);
  assertToken('service', service);
  return `${COMMANDS_SUBJECT_PREFIX}.${plantId}.${service}.>`;
}

export function timerSubject(plantId: string, workflowId: string): string {
  assertToken('plant id', plantId);
  assertToken('workflow id', workflowId);
  return `${TIMERS_SUBJECT_PREFIX}.${plantId}.${workflowId}`;
}

export function plantTimersFilter(plantId: string): string {
  assertToken('plant id', plantId);
  return `${TIMERS_SUBJECT_PREFIX}.${plantId}.>`;
}
