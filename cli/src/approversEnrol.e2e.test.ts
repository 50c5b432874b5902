// `mes approvers enrol` and a two-component signature on the running system: every service in a
// process of its own making (as `npm start` runs them, from dist, logging at trace level to the
// output this test keeps), real nats-server, Mosquitto, an SMTP server and a SQLite file. The
// approver is enrolled through the emailed link, a fault is approved with a wrong and then the right
// PIN, and the PIN is looked for in the process's whole output, the SQLite files, the pages, the
// emails and the audit trail.
import { REPOSITORY_ROOT, approvalEmail, eventually, freePort, mailsTo, publishReading, startFlowFixture, type FlowFixture } from '@mes/platform/testing';
import type { AuditEntry } from '@mes/projections';
import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './mesCli.js';

const PLANTS_YAML = `plants:
  P1:
    signature: link+pin
    approvers:
      - { email: alice@plant1.example, name: Alice Novak }
      - { email: bob@plant1.example, name: Bob Ito }
    approvalTimeout: PT30M
    resources:
      - { id: T-01, type: Technician, name: Dana Ruiz }
      - { id: EQ-01, type: Equipment, name: Scissor lift }
    rules:
      - { when: { machineStatus: Fault }, action: maintenance, reason: "Machine fault" }
`;

const PIN = '583102';
const WRONG_PIN = '583109';

/** Every service in one process, from dist, as the all-in-one process runs them (without the console). */
const ALL_SERVICES = `
import { runServices } from '@mes/platform';
import { start as approvals } from '@mes/approvals';
import { start as ingest } from '@mes/ingest';
import { start as maintenance } from '@mes/maintenance';
import { start as projections } from '@mes/projections';
import { start as resources } from '@mes/resources';
import { start as workflow } from '@mes/workflow';
await runServices('MES', { projections, resources, maintenance, approvals, workflow, ingest });
`;

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

async function cli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await runCli(args, { stdout, stderr, env });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

describe('mes approvers enrol and a decision signed with link and PIN, on the running system', () => {
  let fixture: FlowFixture;
  let services: ChildProcess | undefined;
  let output = '';
  let httpUrl: string;
  const pages: string[] = [];

  const submit = async (link: string, form: Record<string, string>) => {
    const url = new URL(link);
    const response = await fetch(`${url.origin}${url.pathname}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: url.searchParams.get('token') ?? '', ...form }).toString(),
    });
    const page = await response.text();
    pages.push(page);
    return { status: response.status, page };
  };
  const open = async (link: string) => {
    const response = await fetch(link);
    const page = await response.text();
    pages.push(page);
    return { status: response.status, page };
  };

  beforeAll(async () => {
    fixture = await startFlowFixture({ plantsYaml: PLANTS_YAML });
    const port = await freePort();
    httpUrl = `http://127.0.0.1:${port}`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', ALL_SERVICES], {
      cwd: REPOSITORY_ROOT,
      env: { PATH: process.env.PATH, ...fixture.env, HTTP_PORT: String(port), PUBLIC_URL: httpUrl, LOG_LEVEL: 'trace' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    services = child;
    child.stdout!.on('data', (chunk: Buffer) => void (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => void (output += chunk.toString()));
    await eventually('the services to start', async () => {
      if (child.exitCode !== null) throw new Error(`the services exited with ${child.exitCode}:\n${output}`);
      return output.includes('MES is running') ? true : undefined;
    }, 60_000);
  });
  afterAll(async () => {
    if (services !== undefined && services.exitCode === null) {
      const exited = new Promise((resolve) => services!.once('exit', resolve));
      services.kill('SIGTERM');
      await exited;
    }
    await fixture?.dispose();
  });

  it('enrols through the emailed link, then a wrong PIN changes nothing and the right one signs', async () => {
    const env = { ...fixture.env, LOG_LEVEL: 'warn' };
    const enrolled = await cli(['approvers', 'enrol', 'alice@plant1.example'], env);
    expect(enrolled.stderr).toBe('');
    expect(enrolled.code).toBe(0);
    expect(enrolled.stdout).toContain('enrolment link sent to Alice Novak <alice@plant1.example>: signs with link and PIN in P1 (approver in P1)');
    expect(enrolled.stdout).toMatch(/the link works once, until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);

    const enrolment = await eventually('the enrolment email', async () => mailsTo(fixture.smtp, 'alice@plant1.example').find((mail) => mail.subject === 'Set your PIN for signing maintenance approvals'));
    const link = /^Set your PIN: (\S+)$/m.exec(enrolment.text ?? '')?.[1] ?? '';
    expect(link.startsWith(`${httpUrl}/approvals/enrol?token=`)).toBe(true);
    expect((await open(link)).status).toBe(200);
    expect((await submit(link, { pin: PIN, pinAgain: PIN })).page).toContain('Your PIN is set');

    await publishReading(fixture.mosquitto.url, 'P1', 'M-1', { machineStatus: 'Running', messageId: 'sig-1' });
    await publishReading(fixture.mosquitto.url, 'P1', 'M-1', { machineStatus: 'Fault', messageId: 'sig-2' });
    const email = approvalEmail(await eventually('the approval email', async () => mailsTo(fixture.smtp, 'alice@plant1.example').find((mail) => mail.subject?.includes('M-1'))));
    expect(email.mail.text).toContain('the page asks for your PIN too');
    expect((await open(email.approveUrl)).page).toContain('name="pin"');

    const wrong = await submit(email.approveUrl, { comment: 'Go ahead', pin: WRONG_PIN });
    expect(wrong.status).toBe(403);
    const signed = await submit(email.approveUrl, { comment: 'Go ahead', pin: PIN });
    expect(signed.status).toBe(200);
    expect(signed.page).toContain(`<dt>Meaning</dt><dd>Approved maintenance order ${email.orderId} for machine M-1</dd>`);

    // The workflow goes on; the reporting tables show the signature.
    const db = new Database(fixture.env.SQL_URL!.slice('sqlite:'.length), { readonly: true, fileMustExist: true });
    try {
      const row = await eventually('the order with resources in SQL', async () => {
        const order = db.prepare('SELECT Status FROM MaintenanceOrders WHERE OrderID = ?').get(email.orderId) as { Status: string } | undefined;
        return order?.Status === 'ResourcesAllocated' ? db.prepare('SELECT * FROM Approvals WHERE OrderID = ?').get(email.orderId) : undefined;
      }, 30_000);
      expect(row).toMatchObject({ Approver: 'alice@plant1.example', ApproverName: 'Alice Novak', Status: 'Approved', Comment: 'Go ahead', Meaning: `Approved maintenance order ${email.orderId} for machine M-1` });
    } finally {
      db.close();
    }

    // The audit trail has the failure and the signature.
    const audit = await cli(['audit', 'order', email.orderId, '--json'], env);
    expect(audit.code).toBe(0);
    const entries = audit.stdout.trim().split('\n').map((line) => JSON.parse(line) as AuditEntry);
    expect(entries.find((entry) => entry.eventType === 'ApprovalSignatureFailed')?.data).toMatchObject({ approver: { email: 'alice@plant1.example' }, consecutiveWrongPins: 1, reason: 'wrong_pin' });
    expect(entries.find((entry) => entry.eventType === 'ApprovalDecided')?.data).toMatchObject({ signature: { printedName: 'Alice Novak', method: 'link+pin' } });

    // The PIN nowhere: not in the services' output (trace level), the SQLite files, a page, an email or the audit trail.
    expect(output).toContain('decision refused: wrong PIN');
    const sqliteFiles = (await readdir(fixture.dataDir)).filter((name) => name.startsWith('mes.sqlite'));
    expect(sqliteFiles).toContain('mes.sqlite');
    const stored = await Promise.all(sqliteFiles.map(async (name) => [name, (await readFile(join(fixture.dataDir, name))).toString('latin1')] as const));
    const mails = fixture.smtp.messages.map((mail) => `${mail.subject ?? ''}\n${mail.text ?? ''}\n${typeof mail.html === 'string' ? mail.html : ''}`);
    for (const pin of [PIN, WRONG_PIN]) {
      expect(output.includes(pin), `the services' output holds ${pin}`).toBe(false);
      for (const [name, bytes] of stored) expect(bytes.includes(pin), `${name} holds ${pin}`).toBe(false);
      expect(pages.filter((page) => page.includes(pin))).toEqual([]);
      expect(mails.filter((mail) => mail.includes(pin))).toEqual([]);
      expect(audit.stdout.includes(pin)).toBe(false);
    }
  });

  it('refuses someone who is not an approver, and wrong usage', async () => {
    const env = { ...fixture.env, LOG_LEVEL: 'warn' };
    const stranger = await cli(['approvers', 'enrol', 'mallory@elsewhere.example'], env);
    expect(stranger.code).toBe(1);
    expect(stranger.stderr).toMatch(/^mes: mallory@elsewhere\.example is not an approver of any plant in the plant configuration \(P1: alice@plant1\.example, bob@plant1\.example\)/);
    const usage = await cli(['approvers', 'enrol'], env);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('mes: mes approvers enrol needs the approver\'s email');
  });

  it('says so when no approvals service is running to send the link', async () => {
    const exited = new Promise((resolve) => services!.once('exit', resolve));
    services!.kill('SIGTERM');
    await exited;
    const alone = await cli(['approvers', 'enrol', 'bob@plant1.example'], { ...fixture.env, LOG_LEVEL: 'warn' });
    expect(alone.code).toBe(1);
    expect(alone.stderr).toContain('mes: no approvals service is running on this NATS server to send the enrolment email');
  });
});
