// Exports of an order's history for auditors (CONTRACT §5): CSV, JSON lines, and a printable,
// self-contained HTML record (order, machine, the readings that triggered it, the signatures, the
// timeline and the hash-chain verification) that can be filed. The same for `mes audit order
// --format` and `GET /api/orders/{orderId}/audit?format=`. Rendering is pure; exportOrderAudit reads.
import { parseDomainEvent, type DomainEvent, type ReadingSummary, type TelemetryReading } from '@mes/contracts';
import { escapeHtml } from '@mes/platform';
import { auditOrder, verifyOrderChains, type AuditDeps, type ChainVerification, type ChainVerifier, type OrderAudit } from '../application/audit.js';
import { formatAuditChange, formatAuditTime, type AuditEntry } from '../domain/auditTrail.js';
import { orderSignatures } from '../domain/orderSignatures.js';

/** `json` is the HTTP route's default (the OrderAudit object); the others are files for auditors. */
export const AUDIT_FORMATS = ['json', 'csv', 'jsonl', 'html'] as const;
export type AuditFormat = (typeof AUDIT_FORMATS)[number];
export type AuditFileFormat = Exclude<AuditFormat, 'json'>;

export function isAuditFormat(value: unknown): value is AuditFormat {
  return typeof value === 'string' && (AUDIT_FORMATS as readonly string[]).includes(value);
}

export function auditFormatProblem(value: unknown): string {
  return `format must be one of ${AUDIT_FORMATS.join(', ')} (got ${JSON.stringify(value)})`;
}

export interface AuditFile {
  contentType: string;
  /** A name to save it under, e.g. `MO_123-audit.csv`. */
  fileName: string;
  body: string;
}

export interface ExportContext {
  /** When the export was made (ISO-8601, UTC). */
  exportedAt: string;
  /** Who asked for it: the API token's holder, or the person running `mes`. */
  exportedBy: string;
  /** The hash-chain check of the audit's streams (HTML only). */
  chains: ChainVerification;
}

const utcTime = (iso: string) => formatAuditTime({ time: new Date(iso).toISOString() });

// CSV

const CSV_COLUMNS = [
  'Time (UTC)', 'Event', 'Event version', 'Actor kind', 'Actor', 'What changed', 'From', 'To', 'Why', 'Summary',
  'Stream', 'Position', 'Event ID', 'Correlation ID', 'Causation ID', 'Hash', 'Previous hash', 'Data (JSON)',
] as const;

/**
 * One CSV cell (RFC 4180: quoted when it holds a comma, quote or line break, quotes doubled). A cell
 * that a spreadsheet would run as a formula (starting with = + - @ or a tab or carriage return) is
 * prefixed with an apostrophe, so opening the export cannot run what a comment or reason said.
 */
export function csvCell(value: string | number | null): string {
  let text = value === null ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function auditCsv(entries: readonly AuditEntry[]): string {
  const rows = entries.map((entry) => [
    entry.time, entry.eventType, entry.eventVersion, entry.actor.kind, entry.who, entry.change?.subject ?? null, entry.change?.from ?? null, entry.change?.to ?? null,
    entry.why, entry.summary, entry.stream, entry.position, entry.eventId, entry.correlationId, entry.causationId, entry.hash, entry.previousHash, JSON.stringify(entry.data),
  ]);
  return [CSV_COLUMNS, ...rows].map((row) => row.map(csvCell).join(',')).join('\r\n') + '\r\n';
}

// JSON lines

export function auditJsonLines(entries: readonly AuditEntry[]): string {
  return entries.map((entry) => `${JSON.stringify(entry)}\n`).join('');
}

// HTML

/** An entry's event as its contract type, or undefined when this build cannot read it. */
function domainEventOf(entry: AuditEntry): DomainEvent | undefined {
  try {
    return parseDomainEvent(entry.eventType, entry.eventVersion, entry.data);
  } catch {
    return undefined;
  }
}

interface TriggerReading {
  what: string;
  reading: ReadingSummary | TelemetryReading;
}

function triggerReadings(entries: readonly AuditEntry[]): { condition: string | null; readings: TriggerReading[] } {
  let condition: string | null = null;
  const readings: TriggerReading[] = [];
  for (const entry of entries) {
    const event = domainEventOf(entry);
    if (event?.type === 'MachineStatusChanged') {
      condition = entry.change ? formatAuditChange(entry.change) : null;
      readings.push({ what: 'reading that changed the condition', reading: event.data.reading });
    } else if (event?.type === 'WorkflowStarted') {
      readings.push({ what: `reading the rule (${event.data.ruleIndex + 1}: ${event.data.reason}) matched`, reading: event.data.triggeredBy });
    }
  }
  // The same reading is named by the condition change and by the workflow it started: show it once.
  const seen = new Set<string>();
  return {
    condition,
    readings: readings.filter(({ reading }) => {
      const key = `${reading.timestamp}|${reading.messageId ?? ''}|${reading.machineStatus}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    }),
  };
}

function chainLine(chains: ChainVerification): string {
  switch (chains.status) {
    case 'verified':
      return `chain: verified ${chains.events} events in ${chains.streams} streams`;
    case 'broken':
      return `chain: BROKEN in stream ${chains.stream} at position ${chains.position}: ${chains.reason}`;
    case 'not verified':
      return `chain: not verified (${chains.reason})`;
    default: {
      const _exhaustive: never = chains;
      return _exhaustive;
    }
  }
}

const HTML_STYLE = `
body { font: 10.5pt/1.4 system-ui, sans-serif; margin: 2em; color: #111; }
h1 { font-size: 16pt; margin-bottom: 0.2em; } h2 { font-size: 12.5pt; margin-top: 1.6em; border-bottom: 1px solid #999; }
table { border-collapse: collapse; width: 100%; } th, td { border: 1px solid #bbb; padding: 3px 6px; text-align: left; vertical-align: top; overflow-wrap: anywhere; }
th { background: #eee; } dl { display: grid; grid-template-columns: max-content auto; gap: 2px 1.5em; } dt { font-weight: 600; }
.timeline td:nth-child(-n+2) { overflow-wrap: normal; }
.mono { font-family: ui-monospace, monospace; font-size: 8pt; word-break: break-all; } td.mono { width: 10em; } .muted { color: #555; }
.chain-verified { color: #0a5; } .chain-broken { color: #b00; font-weight: 700; } .chain-not-verified { color: #a60; }
@media print { body { margin: 0; } h2 { break-after: avoid; } tr { break-inside: avoid; } }`;

const cell = (value: string | number | null) => `<td>${value === null ? '<span class="muted">–</span>' : escapeHtml(value)}</td>`;
const monoCell = (value: string | null) => (value === null ? cell(null) : `<td class="mono">${escapeHtml(value)}</td>`);

/** The printable record of one order for an auditor's file: self-contained, no scripts, every value escaped. */
export function auditHtml(audit: OrderAudit, context: ExportContext): string {
  const opened = audit.entries.map(domainEventOf).find((event) => event?.type === 'MaintenanceOrderOpened');
  const started = audit.entries.map(domainEventOf).find((event) => event?.type === 'WorkflowStarted');
  const statusChanges = audit.entries.filter((entry) => entry.change?.subject === `order ${audit.orderId}`);
  const status = statusChanges.at(-1)?.change?.to ?? 'unknown';
  const configVersion = started?.type === 'WorkflowStarted' ? (started.data.configVersion === null ? 'unknown (recorded before configuration versions)' : `version ${started.data.configVersion} of plant ${audit.plantId}`) : 'unknown';
  const { condition, readings } = triggerReadings(audit.entries);
  const signatures = orderSignatures(audit.entries, audit);
  const chainClass = `chain-${context.chains.status.replace(' ', '-')}`;

  const facts: [string, string][] = [
    ['Order', audit.orderId],
    ['Status', status],
    ['Plant', audit.plantId],
    ['Machine', audit.machineId],
    ['Workflow', audit.workflowId],
    ['Reason', opened?.type === 'MaintenanceOrderOpened' ? opened.data.reason : 'unknown'],
    ['Opened', opened?.type === 'MaintenanceOrderOpened' ? utcTime(opened.data.openedAt) : 'unknown'],
    ['Configuration', configVersion],
  ];
  const readingRows = readings.map(({ what, reading }) =>
    `<tr>${cell(utcTime(reading.timestamp))}${cell(reading.machineStatus)}${cell(reading.qualityTrend)}${cell(reading.productionActual)}${cell(reading.productionTarget)}${cell(reading.messageId ?? null)}${cell(what)}</tr>`);
  const signatureRows = signatures.map((s) => `<tr>${cell(s.name)}${cell(s.email)}${cell(utcTime(s.signedAt))}${cell(s.meaning)}${cell(s.comment)}</tr>`);
  const timelineRows = audit.entries.map((entry) =>
    `<tr>${cell(formatAuditTime(entry))}${cell(entry.eventType)}${cell(entry.who)}${cell(entry.change ? formatAuditChange(entry.change) : null)}${cell(entry.why)}${cell(entry.summary)}${monoCell(entry.hash)}</tr>`);

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${escapeHtml(`Audit record of maintenance order ${audit.orderId}`)}</title>
<style>${HTML_STYLE}</style>
</head>
<body>
<h1>${escapeHtml(`Audit record of maintenance order ${audit.orderId}`)}</h1>
<p class="muted">${escapeHtml(`Exported ${utcTime(context.exportedAt)} by ${context.exportedBy}, from the event log (not the reporting tables). All times are UTC.`)}</p>
<p class="${chainClass}">${escapeHtml(chainLine(context.chains))}</p>

<h2>Order</h2>
<dl>${facts.map(([term, value]) => `<dt>${escapeHtml(term)}</dt><dd>${escapeHtml(value)}</dd>`).join('')}</dl>

<h2>Readings that triggered it</h2>
${condition === null ? '' : `<p>${escapeHtml(`Condition change: ${condition}`)}</p>`}
${readingRows.length === 0 ? '<p class="muted">No trigger reading in the history.</p>' : `<table><thead><tr><th>Reading time (UTC)</th><th>Machine status</th><th>Quality trend</th><th>Output</th><th>Target</th><th>Message id</th><th>What</th></tr></thead><tbody>
${readingRows.join('\n')}
</tbody></table>`}

<h2>Signatures</h2>
${signatureRows.length === 0 ? '<p class="muted">No decision was signed.</p>' : `<table><thead><tr><th>Printed name</th><th>Email</th><th>Signed (UTC)</th><th>Meaning</th><th>Comment</th></tr></thead><tbody>
${signatureRows.join('\n')}
</tbody></table>`}

<h2>Timeline</h2>
<table class="timeline"><thead><tr><th>Time (UTC)</th><th>Event</th><th>Who</th><th>What changed</th><th>Why</th><th>What happened</th><th>Hash</th></tr></thead><tbody>
${timelineRows.join('\n')}
</tbody></table>

<h2>Streams</h2>
<p class="mono">${escapeHtml(audit.streams.join(', '))}</p>
</body>
</html>
`;
}

export function renderAuditFile(audit: OrderAudit, format: AuditFileFormat, context: ExportContext): AuditFile {
  const fileName = `${audit.orderId}-audit.${format === 'jsonl' ? 'jsonl' : format}`;
  switch (format) {
    case 'csv':
      return { contentType: 'text/csv; charset=utf-8', fileName, body: auditCsv(audit.entries) };
    case 'jsonl':
      return { contentType: 'application/x-ndjson; charset=utf-8', fileName, body: auditJsonLines(audit.entries) };
    case 'html':
      return { contentType: 'text/html; charset=utf-8', fileName, body: auditHtml(audit, context) };
    default: {
      const _exhaustive: never = format;
      return _exhaustive;
    }
  }
}

/** Reads an order's history and renders it as `format`; the HTML record states its chain check. */
export async function exportOrderAudit(
  deps: AuditDeps & { verifyChains?: ChainVerifier },
  orderId: string,
  format: AuditFileFormat,
  request: { exportedBy: string; now?: () => Date },
): Promise<AuditFile> {
  const audit = await auditOrder(deps, orderId);
  const verify = deps.verifyChains ?? verifyOrderChains;
  const chains: ChainVerification = format === 'html' ? await verify(deps.eventStore, audit.streams) : { status: 'not verified', reason: 'not checked for this format' };
  return renderAuditFile(audit, format, { exportedAt: (request.now ?? (() => new Date()))().toISOString(), exportedBy: request.exportedBy, chains });
}
