import { describe, expect, it } from 'vitest';
import type { OrderAudit } from '../application/audit.js';
import { auditTrail, type AuditableEvent } from '../domain/auditTrail.js';
import { auditCsv, auditFormatProblem, auditHtml, auditJsonLines, csvCell, isAuditFormat, renderAuditFile, type ExportContext } from './auditExport.js';

const T0 = '2026-11-25T10:00:00.000Z';
const T1 = '2026-11-25T10:30:00.000Z';
const alice = { email: 'alice@plant1.example', name: 'Alice "Ali" Novak' };
/** A comment an approver could type: markup, a spreadsheet formula, commas, quotes and a line break. */
const hostileComment = '=HYPERLINK("http://evil.example","go")<script>alert(1)</script>, fine\nsecond line';
const trigger = { machineStatus: 'Fault', qualityTrend: 'Declining', productionTarget: 100, productionActual: 40.5, timestamp: T0, messageId: 'msg-<1>' };
const reading = { ...trigger, plantId: 'P1', machineId: 'M-1', timestampSource: 'device', receivedAt: T0 };

let position = 0n;
const stored = (stream: string, type: string, data: unknown, extra: Partial<AuditableEvent> = {}): AuditableEvent => ({
  eventId: `e${(position += 1n).toString()}`, position, type, version: 1, stream, occurredAt: T0, correlationId: 'WF_1', causationId: null, actor: { kind: 'service', id: 'workflow' }, data, ...extra,
});

const events = [
  stored('P1.machine.M-1', 'MachineStatusChanged', { plantId: 'P1', machineId: 'M-1', previous: { machineStatus: 'Running', qualityTrend: 'Stable', productionBand: 'onTarget' }, current: { machineStatus: 'Fault', qualityTrend: 'Declining', productionBand: 'below50' }, reading }, { actor: { kind: 'device', id: 'M-1' } }),
  stored('P1.workflow.WF_1', 'WorkflowStarted', { workflowId: 'WF_1', plantId: 'P1', machineId: 'M-1', ruleIndex: 0, reason: 'Machine fault', triggeredBy: trigger, startedAt: T0, configVersion: 2, policy: { approvers: [alice], approvalTimeoutMs: 1_800_000 } }, { version: 2 }),
  stored('P1.order.MO_1', 'MaintenanceOrderOpened', { orderId: 'MO_1', plantId: 'P1', machineId: 'M-1', workflowId: 'WF_1', reason: 'Machine fault', trigger, openedAt: T0 }, { actor: { kind: 'service', id: 'maintenance' }, hash: 'b'.repeat(64), previousHash: '0'.repeat(64) }),
  stored('P1.approval.MO_1', 'ApprovalDecided', { approvalId: 'AP_1_0', orderId: 'MO_1', decision: 'approved', approver: alice, decidedAt: T1, comment: hostileComment, clientAddress: '10.0.0.7', userAgent: 'Firefox' }, { actor: { kind: 'person', id: alice.email, name: alice.name } }),
  stored('P1.order.MO_1', 'MaintenanceOrderApproved', { orderId: 'MO_1', approvalId: 'AP_1_0', decidedBy: alice.email, decidedByName: alice.name, decidedAt: T1, comment: hostileComment }),
];
const audit: OrderAudit = { orderId: 'MO_1', plantId: 'P1', machineId: 'M-1', workflowId: 'WF_1', entries: auditTrail(events), streams: ['P1.workflow.WF_1', 'P1.order.MO_1', 'P1.approval.MO_1', 'P1.machine.M-1'] };
const context: ExportContext = { exportedAt: '2026-11-26T08:00:00.000Z', exportedBy: 'auditor <a&b>', chains: { status: 'not verified', reason: 'the event store could not be read' } };

/** Parses RFC 4180 CSV (quoted cells, doubled quotes, CRLF rows) back into rows. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') { cell += '"'; i++; } else if (char === '"') quoted = false; else cell += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') { row.push(cell); cell = ''; } else if (char === '\r' && text[i + 1] === '\n') { row.push(cell); rows.push(row); row = []; cell = ''; i++; } else cell += char;
  }
  return rows;
}

describe('the format of an audit export', () => {
  it('is one of json, csv, jsonl, html, and a wrong one is named', () => {
    expect(['json', 'csv', 'jsonl', 'html'].every(isAuditFormat)).toBe(true);
    expect(isAuditFormat('xml')).toBe(false);
    expect(isAuditFormat(['csv'])).toBe(false);
    expect(auditFormatProblem('xml')).toBe('format must be one of json, csv, jsonl, html (got "xml")');
  });
});

describe('the CSV export', () => {
  const rows = parseCsv(auditCsv(audit.entries));

  it('has a header and one row per entry, with time, who, what changed, why, chain and data', () => {
    expect(rows[0]).toEqual(['Time (UTC)', 'Event', 'Event version', 'Actor kind', 'Actor', 'What changed', 'From', 'To', 'Why', 'Summary', 'Stream', 'Position', 'Event ID', 'Correlation ID', 'Causation ID', 'Hash', 'Previous hash', 'Data (JSON)']);
    expect(rows).toHaveLength(1 + audit.entries.length);
    const opened = rows.find((row) => row[1] === 'MaintenanceOrderOpened')!;
    expect(opened.slice(0, 9)).toEqual([T0, 'MaintenanceOrderOpened', '1', 'service', 'service maintenance', 'order MO_1', '', 'PendingApproval', 'Machine fault']);
    expect(opened.slice(15, 17)).toEqual(['b'.repeat(64), '0'.repeat(64)]);
    expect(JSON.parse(opened[17]!)).toEqual(events[2]!.data);
    const approved = rows.find((row) => row[1] === 'MaintenanceOrderApproved')!;
    expect(approved.slice(5, 8)).toEqual(['order MO_1', 'PendingApproval', 'Approved']);
  });

  it('keeps commas, quotes and line breaks inside their cell, and defuses spreadsheet formulas', () => {
    const decided = rows.find((row) => row[1] === 'ApprovalDecided')!;
    expect(decided[8]).toBe(`comment: "${hostileComment}"`);
    expect(csvCell(hostileComment)).toBe(`"'${hostileComment.replaceAll('"', '""')}"`);
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvCell('-1+2')).toBe("'-1+2");
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell(null)).toBe('');
  });
});

describe('the JSON lines export', () => {
  it('is one entry per line, the same objects as the JSON audit', () => {
    const lines = auditJsonLines(audit.entries).split('\n');
    expect(lines.at(-1)).toBe('');
    expect(lines.slice(0, -1).map((line) => JSON.parse(line))).toEqual(JSON.parse(JSON.stringify(audit.entries)));
  });
});

describe('the HTML record', () => {
  const html = auditHtml(audit, context);

  it('escapes every value and runs nothing', () => {
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('Alice &quot;Ali&quot; Novak');
    expect(html).toContain('auditor &lt;a&amp;b&gt;');
    expect(html).toContain('msg-&lt;1&gt;');
    expect(html).toMatch(/<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">/);
    expect(html).not.toMatch(/<script|<link|<img|<iframe|\ssrc=|\shref=|\son\w+=/i);
  });

  it('shows the order, the configuration version, the trigger reading, the signature and the timeline', () => {
    expect(html).toContain('<dt>Order</dt><dd>MO_1</dd>');
    expect(html).toContain('<dt>Status</dt><dd>Approved</dd>');
    expect(html).toContain('<dt>Machine</dt><dd>M-1</dd>');
    expect(html).toContain('<dt>Configuration</dt><dd>version 2 of plant P1</dd>');
    expect(html).toContain('Condition change: machine M-1: Running, quality Stable, output onTarget -&gt; Fault, quality Declining, output below50');
    // The reading the condition change and the workflow both name is shown once.
    expect(html.match(/<td>2026-11-25 10:00:00\.000 UTC<\/td><td>Fault<\/td><td>Declining<\/td><td>40\.5<\/td><td>100<\/td><td>msg-&lt;1&gt;<\/td>/g)).toHaveLength(1);
    expect(html).toContain('<td>Alice &quot;Ali&quot; Novak</td><td>alice@plant1.example</td><td>2026-11-25 10:30:00.000 UTC</td><td>Approved maintenance order MO_1 for machine M-1</td>');
    expect(html).toContain('<td>order MO_1: PendingApproval -&gt; Approved</td>');
    expect(html).toContain(`<td class="mono">${'b'.repeat(64)}</td>`);
    expect(html.match(/<tr><td>2026-11-25 10:00:00\.000 UTC<\/td><td>MachineStatusChanged<\/td>/g)).toHaveLength(1);
  });

  it('states the chain verification: not verified, verified or broken', () => {
    expect(html).toContain('<p class="chain-not-verified">chain: not verified (the event store could not be read)</p>');
    expect(auditHtml(audit, { ...context, chains: { status: 'verified', events: 42, streams: 4 } })).toContain('<p class="chain-verified">chain: verified 42 events in 4 streams</p>');
    expect(auditHtml(audit, { ...context, chains: { status: 'broken', stream: 'P1.order.MO_1', position: '17', reason: 'hash differs: the event was changed' } }))
      .toContain('<p class="chain-broken">chain: BROKEN in stream P1.order.MO_1 at position 17: hash differs: the event was changed</p>');
  });
});

describe('an export file', () => {
  it('has the content type and file name of its format', () => {
    expect(renderAuditFile(audit, 'csv', context)).toMatchObject({ contentType: 'text/csv; charset=utf-8', fileName: 'MO_1-audit.csv' });
    expect(renderAuditFile(audit, 'jsonl', context)).toMatchObject({ contentType: 'application/x-ndjson; charset=utf-8', fileName: 'MO_1-audit.jsonl' });
    expect(renderAuditFile(audit, 'html', context)).toMatchObject({ contentType: 'text/html; charset=utf-8', fileName: 'MO_1-audit.html' });
  });
});
