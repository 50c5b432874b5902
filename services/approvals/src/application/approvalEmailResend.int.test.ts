// A request's email carries one Message-ID, the same on a resend (CONTRACT §4): here the mail server
// accepts the email but recording ApprovalEmailSent fails (as if the process died in between), so
// the redelivered event sends it again.
import { EVENTS_STREAM, EVENTS_SUBJECT_PREFIX, streamName } from '@mes/contracts';
import { createLogger, handleCommand, JetStreamEventStore, parseRecordedEvent, provisionTopology, type EventStore } from '@mes/platform';
import { startNatsServer, startSmtpCapture, withOverrides, type NatsServerHandle, type SmtpCapture } from '@mes/platform/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { smtpMailSender } from '../adapters/mail/mailSender.js';
import { approvalRequestDecider } from '../domain/approvalRequest.js';
import { approvalEmailOutbox } from './approvalEmailOutbox.js';
import { alice, APPROVAL_SECRET } from '../testing/approvalsFixture.js';

let nats: NatsServerHandle;
let nc: NatsConnection;
let store: JetStreamEventStore;
let smtp: SmtpCapture;

beforeAll(async () => {
  [nats, smtp] = await Promise.all([startNatsServer(), startSmtpCapture()]);
  nc = await connect({ servers: nats.url });
  await provisionTopology(nc, await jetstreamManager(nc), { dedupeWindowMs: 120_000 });
  store = new JetStreamEventStore({ nc, stream: EVENTS_STREAM, subjectPrefix: EVENTS_SUBJECT_PREFIX });
});
afterAll(async () => {
  await store?.close();
  await nc?.close();
  await Promise.all([nats?.dispose(), smtp?.close()]);
});

describe('an approval email sent again after a crash', () => {
  it('has the Message-ID of the first send', async () => {
    const stream = streamName('P1', 'approval', 'MO_resend');
    const now = () => new Date();
    await handleCommand({ store, now }, approvalRequestDecider, stream, {
      type: 'RequestApproval',
      approvalId: 'AP_resend_0',
      orderId: 'MO_resend',
      plantId: 'P1',
      machineId: 'M-1',
      approver: alice,
      level: 0,
      expiresAt: new Date(Date.now() + 30 * 60_000).toISOString(),
      issuedAt: now().toISOString(),
    }, { correlationId: 'WF_resend', causationId: null, actor: { kind: 'service', id: 'workflow' } });
    const requested = parseRecordedEvent((await store.readStream(stream)).events[0]!);

    // The first attempt: the mail server takes the email, then the append fails.
    let failAppends = true;
    const crashing: EventStore = withOverrides(store, {
      appendToStream: (...args) => (failAppends ? Promise.reject(new Error('the process died here')) : store.appendToStream(...args)),
    });
    const mail = smtpMailSender(smtp.url);
    const outbox = (eventStore: EventStore) =>
      approvalEmailOutbox({ store: eventStore, mail, now, logger: createLogger({ service: 'test', level: 'silent' }), mailFrom: 'mes@localhost', publicUrl: 'http://127.0.0.1:3000', approvalSecret: APPROVAL_SECRET, linkTtlMs: 60_000 });
    try {
      await expect(outbox(crashing)(requested)).rejects.toThrow('the process died here');
      // The redelivery.
      failAppends = false;
      await outbox(crashing)(requested);
      // A third delivery after the record: nothing more is sent.
      await outbox(crashing)(requested);
    } finally {
      mail.close();
    }

    const sent = smtp.messages.filter((m) => m.subject?.includes('MO_resend'));
    expect(sent).toHaveLength(2);
    expect(sent.map((m) => m.messageId)).toEqual(['<AP_resend_0@mes>', '<AP_resend_0@mes>']);
    expect((await store.readStream(stream)).events.filter((e) => e.type === 'ApprovalEmailSent')).toHaveLength(1);
  });
});

describe('an approval email whose request a lagging read does not show', () => {
  it('is not dropped: the delivery fails (to come again) and the next one sends it', async () => {
    const stream = streamName('P1', 'approval', 'MO_lagging');
    const now = () => new Date();
    await handleCommand({ store, now }, approvalRequestDecider, stream, {
      type: 'RequestApproval',
      approvalId: 'AP_lagging_0',
      orderId: 'MO_lagging',
      plantId: 'P1',
      machineId: 'M-1',
      approver: alice,
      level: 0,
      expiresAt: new Date(Date.now() + 30 * 60_000).toISOString(),
      issuedAt: now().toISOString(),
    }, { correlationId: 'WF_lagging', causationId: null, actor: { kind: 'service', id: 'workflow' } });
    const requested = parseRecordedEvent((await store.readStream(stream)).events[0]!);

    // A node of a cluster whose copy of the log is behind the one that delivered the event: the
    // first read of the approval stream does not contain it yet.
    let lagging = true;
    const behind: EventStore = withOverrides(store, {
      readStream: async (name) => {
        const read = await store.readStream(name);
        if (!lagging || name !== stream) return read;
        lagging = false;
        return { events: [], revision: 'no_stream' as const };
      },
    });
    const mail = smtpMailSender(smtp.url);
    const outbox = approvalEmailOutbox({ store: behind, mail, now, logger: createLogger({ service: 'test', level: 'silent' }), mailFrom: 'mes@localhost', publicUrl: 'http://127.0.0.1:3000', approvalSecret: APPROVAL_SECRET, linkTtlMs: 60_000 });
    try {
      await expect(outbox(requested)).rejects.toThrow(/does not show approval request AP_lagging_0/);
      expect(smtp.messages.filter((m) => m.subject?.includes('MO_lagging'))).toHaveLength(0);
      await outbox(requested);
    } finally {
      mail.close();
    }
    expect(smtp.messages.filter((m) => m.subject?.includes('MO_lagging'))).toHaveLength(1);
    expect((await store.readStream(stream)).events.map((e) => e.type)).toEqual(['ApprovalRequested', 'ApprovalEmailSent']);
  });
});
