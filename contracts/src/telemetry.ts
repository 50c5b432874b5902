// Edge telemetry as CONTRACT §1 defines it: topic and payload validation with reasons a person can
// act on, and the normalised reading the rest of the system works with.
import { Buffer, isUtf8 } from 'node:buffer';
import { z } from 'zod';
import { IsoInstantSchema } from './envelope.js';
import { IDENTIFIER_PATTERN } from './names.js';

export const MAX_TELEMETRY_PAYLOAD_BYTES = 64 * 1024;

export const MACHINE_STATUSES = ['Running', 'Idle', 'Fault', 'Maintenance', 'Offline'] as const;
export type MachineStatus = (typeof MACHINE_STATUSES)[number];
export const QUALITY_TRENDS = ['Improving', 'Stable', 'Declining'] as const;
export type QualityTrend = (typeof QUALITY_TRENDS)[number];

/** One problem found by a schema: where (dotted key path, '' for the whole value) and what. */
export interface ValidationIssue {
  path: string;
  message: string;
}

/** Zod error customisation that tells a missing field apart from a wrong one. */
export function requiredOr(message: string): (issue: { input?: unknown }) => string {
  return (issue) => (issue.input === undefined ? 'is required' : message);
}

const MAX_SHOWN_CHARS = 80;

function showValue(value: unknown): string {
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (typeof value === 'string') {
    const quoted = JSON.stringify(value);
    return quoted.length > MAX_SHOWN_CHARS ? `${quoted.slice(0, MAX_SHOWN_CHARS)}…" (${String(value.length)} characters)` : quoted;
  }
  if (value === null || value === undefined || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function pathText(path: readonly PropertyKey[]): string {
  return path.map((key) => String(key)).join('.');
}

/**
 * Turns a zod error into one issue per problem, each message ending with the offending value
 * (`must be >= 0 (got -3)`), so a reader sees what was sent without opening the payload.
 * Parse with `{ reportInput: true }` so zod keeps the values.
 */
export function validationIssues(error: z.ZodError): ValidationIssue[] {
  return error.issues.map((issue) => {
    const path = pathText(issue.path);
    if (issue.code === 'invalid_key') {
      const reasons = issue.issues.map((inner) => inner.message).join(', ');
      return { path, message: `${reasons} (got ${showValue(issue.input)})` };
    }
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys.map((key) => JSON.stringify(key)).join(', ');
      return { path, message: `unknown key${issue.keys.length > 1 ? 's' : ''} ${keys}: not allowed here` };
    }
    // Whole objects and lists are only worth naming when their kind was the problem.
    const input = issue.input;
    const showInput = input !== undefined && (typeof input !== 'object' || input === null || issue.code === 'invalid_type');
    return { path, message: showInput ? `${issue.message} (got ${showValue(input)})` : issue.message };
  });
}

/** `path: message; path: message`, as reasons are shown to operators. */
export function describeValidationIssues(issues: readonly ValidationIssue[]): string {
  return issues.map(({ path, message }) => (path === '' ? message : `${path}: ${message}`)).join('; ');
}

/** JSON has no NaN or Infinity, and zod 4 numbers refuse them too, so this is finite. */
function nonNegativeNumber() {
  const rule = 'must be a number >= 0';
  return z.number({ error: requiredOr(rule) }).min(0, { error: rule });
}

/** Largest epoch-milliseconds value a JavaScript Date can hold (year 275760). */
const MAX_EPOCH_MS = 8.64e15;
const TIMESTAMP_RULE = 'must be an ISO-8601 date-time with an offset (e.g. 2026-11-25T10:00:00Z or 2026-11-25T11:00:00+01:00) or epoch milliseconds (a whole number >= 0)';

// The rule goes on every branch: zod reports the branch whose type matched, not the union.
const TimestampSchema = z.union(
  [
    z.iso.datetime({ offset: true, error: TIMESTAMP_RULE }),
    z.number().int({ error: TIMESTAMP_RULE }).min(0, { error: TIMESTAMP_RULE }).max(MAX_EPOCH_MS, { error: TIMESTAMP_RULE }),
  ],
  { error: TIMESTAMP_RULE },
);

export const TelemetryPayloadSchema = z.object({
  machineStatus: z.enum(MACHINE_STATUSES, { error: requiredOr(`must be one of ${MACHINE_STATUSES.join(', ')}`) }),
  qualityTrend: z.enum(QUALITY_TRENDS, { error: requiredOr(`must be one of ${QUALITY_TRENDS.join(', ')}`) }),
  productionTarget: nonNegativeNumber(),
  productionActual: nonNegativeNumber(),
  timestamp: TimestampSchema.optional(),
  messageId: z
    .string({ error: 'must be a string of 1 to 128 characters' })
    .min(1, { error: 'must not be empty (1 to 128 characters)' })
    .max(128, { error: 'must be at most 128 characters' })
    .optional(),
  plantId: z.string({ error: 'must be a string' }).optional(),
  machineId: z.string({ error: 'must be a string' }).optional(),
});
export type TelemetryPayload = z.infer<typeof TelemetryPayloadSchema>;

/** A reading that passed every rule of CONTRACT §1, with its time normalised to ISO UTC. */
export const TelemetryReadingSchema = z.object({
  plantId: z.string().regex(IDENTIFIER_PATTERN),
  machineId: z.string().regex(IDENTIFIER_PATTERN),
  machineStatus: z.enum(MACHINE_STATUSES),
  qualityTrend: z.enum(QUALITY_TRENDS),
  productionTarget: z.number().min(0),
  productionActual: z.number().min(0),
  /** Reading time: the device's timestamp, or the receipt time if the device sent none. */
  timestamp: IsoInstantSchema,
  timestampSource: z.enum(['device', 'receipt']),
  messageId: z.string().min(1).max(128).optional(),
  receivedAt: IsoInstantSchema,
});
export type TelemetryReading = z.infer<typeof TelemetryReadingSchema>;

export type TelemetryTopicResult =
  | { ok: true; plantId: string; machineId: string }
  | { ok: false; reason: string };

export type TelemetryValidationResult =
  | { ok: true; reading: TelemetryReading }
  | { ok: false; reason: string };

const TOPIC_SHAPE = 'mes/{plantId}/{machineId}/telemetry';
const IDENTIFIER_RULE = 'must be 1 to 64 characters of A-Z a-z 0-9 _ -';

export function parseTelemetryTopic(topic: string): TelemetryTopicResult {
  const levels = topic.split('/');
  const [prefix, plantId, machineId, suffix] = levels;
  if (levels.length !== 4 || prefix !== 'mes' || suffix !== 'telemetry' || plantId === undefined || machineId === undefined) {
    return { ok: false, reason: `topic ${showValue(topic)} is not ${TOPIC_SHAPE}` };
  }
  const problems: string[] = [];
  if (!IDENTIFIER_PATTERN.test(plantId)) problems.push(`plantId ${showValue(plantId)} ${IDENTIFIER_RULE}`);
  if (!IDENTIFIER_PATTERN.test(machineId)) problems.push(`machineId ${showValue(machineId)} ${IDENTIFIER_RULE}`);
  if (problems.length > 0) return { ok: false, reason: `topic ${showValue(topic)}: ${problems.join('; ')}` };
  return { ok: true, plantId, machineId };
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Bytes the string takes in UTF-8, counted without encoding it. */
function utf8ByteLength(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff) {
      bytes += 4;
      i += 1;
    } else bytes += 3;
  }
  return bytes;
}

function sizeProblem(bytes: number): string | undefined {
  if (bytes <= MAX_TELEMETRY_PAYLOAD_BYTES) return undefined;
  return `payload is ${String(bytes)} bytes; the limit is ${String(MAX_TELEMETRY_PAYLOAD_BYTES)} bytes (64 KiB)`;
}

/** Strict (an invalid sequence throws) and, like any TextDecoder, drops a leading BOM; stateless between calls. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

function decodePayload(payload: Uint8Array | string): { ok: true; text: string } | { ok: false; reason: string } {
  if (typeof payload === 'string') {
    const tooBig = sizeProblem(utf8ByteLength(payload));
    if (tooBig !== undefined) return { ok: false, reason: tooBig };
    if (LONE_SURROGATE.test(payload)) return { ok: false, reason: 'payload is not valid UTF-8: it contains an unpaired surrogate' };
    return { ok: true, text: payload };
  }
  const tooBig = sizeProblem(payload.byteLength);
  if (tooBig !== undefined) return { ok: false, reason: tooBig };
  // Valid UTF-8 without a BOM (which the TextDecoder would drop) decodes the same either way, quicker.
  if (payload[0] !== 0xef && isUtf8(payload)) return { ok: true, text: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8') };
  try {
    return { ok: true, text: UTF8.decode(payload) };
  } catch {
    return { ok: false, reason: 'payload is not valid UTF-8' };
  }
}

function jsonKind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/**
 * `YYYY-MM-DDTHH:MM:SS.sssZ`, what `toISOString` writes for years 0000-9999: such a timestamp,
 * once validated (a real date and time of day), is its own normal form.
 */
const NORMAL_ISO_UTC = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.\d{3}Z$/;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Whether a timestamp in the normal form names a real instant (what TimestampSchema checks too); false for any other form. */
function isValidNormalIsoUtc(timestamp: string): boolean {
  const parts = NORMAL_ISO_UTC.exec(timestamp);
  if (parts === null) return false;
  const year = Number(parts[1]);
  const month = Number(parts[2]);
  const day = Number(parts[3]);
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1];
  return days !== undefined && day >= 1 && day <= days && Number(parts[4]) <= 23 && Number(parts[5]) <= 59 && Number(parts[6]) <= 59;
}

/** A validated timestamp as ISO UTC with milliseconds. */
function toIsoUtc(timestamp: string | number): string {
  if (typeof timestamp === 'string' && NORMAL_ISO_UTC.test(timestamp)) return timestamp;
  return new Date(timestamp).toISOString();
}

const MACHINE_STATUS_SET: ReadonlySet<string> = new Set(MACHINE_STATUSES);
const QUALITY_TREND_SET: ReadonlySet<string> = new Set(QUALITY_TRENDS);
/** The string branch of TimestampSchema on its own (a single check, no union). */
const IsoDateTimeSchema = z.iso.datetime({ offset: true });

/**
 * The fields of a payload that is plainly well formed, checked by hand; undefined for anything
 * unusual, which TelemetryPayloadSchema then judges (and explains). It only ever accepts what the
 * schema accepts, with the same fields: the schema stays the rule, this is the quick way through it
 * for the common case (zod costs several times more per reading).
 */
export function wellFormedTelemetryFields(json: Readonly<Record<string, unknown>>): TelemetryPayload | undefined {
  const { machineStatus, qualityTrend, productionTarget, productionActual, timestamp, messageId, plantId, machineId } = json;
  if (typeof machineStatus !== 'string' || !MACHINE_STATUS_SET.has(machineStatus)) return undefined;
  if (typeof qualityTrend !== 'string' || !QUALITY_TREND_SET.has(qualityTrend)) return undefined;
  if (typeof productionTarget !== 'number' || !(productionTarget >= 0 && productionTarget < Infinity)) return undefined;
  if (typeof productionActual !== 'number' || !(productionActual >= 0 && productionActual < Infinity)) return undefined;
  if (timestamp !== undefined) {
    if (typeof timestamp === 'number') {
      if (!(Number.isSafeInteger(timestamp) && timestamp >= 0 && timestamp <= MAX_EPOCH_MS)) return undefined;
    } else if (typeof timestamp !== 'string' || !(isValidNormalIsoUtc(timestamp) || IsoDateTimeSchema.safeParse(timestamp).success)) return undefined;
  }
  if (messageId !== undefined && (typeof messageId !== 'string' || messageId.length < 1 || messageId.length > 128)) return undefined;
  if (plantId !== undefined && typeof plantId !== 'string') return undefined;
  if (machineId !== undefined && typeof machineId !== 'string') return undefined;
  const fields: TelemetryPayload = {
    machineStatus: machineStatus as MachineStatus,
    qualityTrend: qualityTrend as QualityTrend,
    productionTarget,
    productionActual,
  };
  if (timestamp !== undefined) fields.timestamp = timestamp;
  if (messageId !== undefined) fields.messageId = messageId;
  if (plantId !== undefined) fields.plantId = plantId;
  if (machineId !== undefined) fields.machineId = machineId;
  return fields;
}

/**
 * Checks one MQTT message against every rule of CONTRACT §1. The size is checked before the
 * payload is decoded, so an oversized message costs nothing to refuse.
 */
export function validateTelemetry(topic: string, payload: Uint8Array | string, receivedAt: Date): TelemetryValidationResult {
  return validate(topic, payload, receivedAt, true);
}

/** validateTelemetry with every payload judged by TelemetryPayloadSchema: the reference the quick path is tested against. */
export function validateTelemetryBySchema(topic: string, payload: Uint8Array | string, receivedAt: Date): TelemetryValidationResult {
  return validate(topic, payload, receivedAt, false);
}

function validate(topic: string, payload: Uint8Array | string, receivedAt: Date, quick: boolean): TelemetryValidationResult {
  const parsedTopic = parseTelemetryTopic(topic);
  if (!parsedTopic.ok) return parsedTopic;
  const { plantId, machineId } = parsedTopic;

  const decoded = decodePayload(payload);
  if (!decoded.ok) return decoded;

  let json: unknown;
  try {
    json = JSON.parse(decoded.text);
  } catch (error) {
    return { ok: false, reason: `payload is not valid JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { ok: false, reason: `payload must be a JSON object (got ${jsonKind(json)})` };
  }

  let fields = quick ? wellFormedTelemetryFields(json as Record<string, unknown>) : undefined;
  if (fields === undefined) {
    const parsed = TelemetryPayloadSchema.safeParse(json, { reportInput: true });
    if (!parsed.success) return { ok: false, reason: describeValidationIssues(validationIssues(parsed.error)) };
    fields = parsed.data;
  }

  const mismatches: string[] = [];
  if (fields.plantId !== undefined && fields.plantId !== plantId) {
    mismatches.push(`plantId ${showValue(fields.plantId)} in the payload does not match "${plantId}" in the topic`);
  }
  if (fields.machineId !== undefined && fields.machineId !== machineId) {
    mismatches.push(`machineId ${showValue(fields.machineId)} in the payload does not match "${machineId}" in the topic`);
  }
  if (mismatches.length > 0) return { ok: false, reason: mismatches.join('; ') };

  const receivedAtIso = receivedAt.toISOString();
  const reading: TelemetryReading = {
    plantId,
    machineId,
    machineStatus: fields.machineStatus,
    qualityTrend: fields.qualityTrend,
    productionTarget: fields.productionTarget,
    productionActual: fields.productionActual,
    timestamp: fields.timestamp === undefined ? receivedAtIso : toIsoUtc(fields.timestamp),
    timestampSource: fields.timestamp === undefined ? 'receipt' : 'device',
    receivedAt: receivedAtIso,
  };
  if (fields.messageId !== undefined) reading.messageId = fields.messageId;
  return { ok: true, reading };
}

/**
 * Output is compared with its target in coarse bands rather than as a raw ratio: a machine's
 * condition "changes" (and rules are evaluated again, CONTRACT §3) only when the band changes,
 * so a ratio jittering between 0.71 and 0.72 does not re-trigger anything.
 */
export const PRODUCTION_BANDS = ['unknown', 'below50', 'below80', 'below90', 'onTarget'] as const;
export type ProductionBand = (typeof PRODUCTION_BANDS)[number];

/** Upper edges (exclusive), lowest first; a ratio at or above the last edge is `onTarget`. */
export const PRODUCTION_BAND_EDGES: readonly { readonly below: number; readonly band: ProductionBand }[] = [
  { below: 0.5, band: 'below50' },
  { below: 0.8, band: 'below80' },
  { below: 0.9, band: 'below90' },
];

/** Actual output over target; null when the target is 0 and the ratio means nothing. */
export function productionRatio(reading: { productionTarget: number; productionActual: number }): number | null {
  return reading.productionTarget > 0 ? reading.productionActual / reading.productionTarget : null;
}

export function productionBand(ratio: number | null): ProductionBand {
  if (ratio === null) return 'unknown';
  return PRODUCTION_BAND_EDGES.find((edge) => ratio < edge.below)?.band ?? 'onTarget';
}

export const MachineConditionSchema = z.object({
  machineStatus: z.enum(MACHINE_STATUSES),
  qualityTrend: z.enum(QUALITY_TRENDS),
  productionBand: z.enum(PRODUCTION_BANDS),
});
export type MachineCondition = z.infer<typeof MachineConditionSchema>;

export function machineConditionOf(reading: Pick<TelemetryReading, 'machineStatus' | 'qualityTrend' | 'productionTarget' | 'productionActual'>): MachineCondition {
  return {
    machineStatus: reading.machineStatus,
    qualityTrend: reading.qualityTrend,
    productionBand: productionBand(productionRatio(reading)),
  };
}
