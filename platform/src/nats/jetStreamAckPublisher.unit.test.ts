import { headers } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { publishHeaders } from './jetStreamAckPublisher.js';

type Encodable = { encode(): Uint8Array };
const wire = (h: unknown): string => Buffer.from((h as Encodable).encode()).toString('latin1');

/** What nats.js's own headers put on the wire for the same options. */
function natsHeaders(msgId: string, expectLastSubjectSequence?: number): string {
  const h = headers();
  h.set('Nats-Msg-Id', msgId);
  if (expectLastSubjectSequence !== undefined) h.set('Nats-Expected-Last-Subject-Sequence', String(expectLastSubjectSequence));
  return wire(h);
}

describe('publishHeaders', () => {
  const ids = [
    'P1/M-0001/bench-1-22',
    'a',
    '6f1b3c2e-8a54-4d0f-9b7e-2f6c1d9a4e38',
    'sha256:0123456789abcdef',
    'with inner spaces',
    ' leading space',
    'trailing space ',
    '~!@#$%^&*()_+{}|:"<>?`-=[]\\;\',./',
    'ünïcode',
    'tab\there',
    'x'.repeat(300),
  ];

  it('puts the same bytes on the wire as nats.js headers, with and without an expected sequence', () => {
    for (const id of ids) {
      expect(wire(publishHeaders({ msgId: id })), id).toBe(natsHeaders(id));
      for (const seq of [0, 1, 123_456_789]) {
        expect(wire(publishHeaders({ msgId: id, expectLastSubjectSequence: seq })), `${id} ${seq}`).toBe(natsHeaders(id, seq));
      }
    }
  });

  it('refuses a line break in a value as nats.js does', () => {
    expect(() => publishHeaders({ msgId: 'a\r\nb' })).toThrow(/\\r or \\n/);
  });
});
