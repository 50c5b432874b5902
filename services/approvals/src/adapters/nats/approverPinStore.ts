// The approvers' PIN records in the KV bucket `mes_approver_pins` (one key per approver), shared by
// every copy of the approvals service and kept across restarts. Every change is a compare-and-set
// on the key's revision, so wrong PINs counted by two copies at once are both counted.
import { APPROVER_PINS_BUCKET } from '@mes/platform';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { z } from 'zod';
import { emptyPinRecord, type ApproverPinRecord } from '../../domain/approverPins.js';

const Iso = z.string().refine((text) => !Number.isNaN(Date.parse(text)));
const ApproverPinRecordSchema = z.object({
  email: z.string().min(1),
  pin: z
    .object({ algorithm: z.literal('scrypt'), N: z.number().int().positive(), r: z.number().int().positive(), p: z.number().int().positive(), salt: z.string().min(1), hash: z.string().min(1), setAt: Iso })
    .nullable(),
  enrolment: z.object({ nonce: z.string().min(1), sentAt: Iso, expiresAt: Iso }).nullable(),
  wrongPins: z.number().int().min(0),
  lockedUntil: Iso.nullable(),
});

/**
 * The key of an approver: the email in lower case, every character but a-z 0-9 _ - written as
 * `=` and its UTF-8 bytes in hex, e.g. `alice=40plant1=2eexample` (KV keys allow few characters).
 */
export function approverPinKey(email: string): string {
  return [...email.toLowerCase()].map((char) => (/^[a-z0-9_-]$/.test(char) ? char : [...Buffer.from(char, 'utf8')].map((byte) => `=${byte.toString(16).padStart(2, '0')}`).join(''))).join('');
}

const MAX_ATTEMPTS = 10;

export class ApproverPinStore {
  private constructor(private readonly kv: KV) {}

  /** Opens the bucket the topology provisions; never creates it. */
  static async open(nc: NatsConnection): Promise<ApproverPinStore> {
    return new ApproverPinStore(await new Kvm(nc).open(APPROVER_PINS_BUCKET));
  }

  async read(email: string): Promise<ApproverPinRecord> {
    return (await this.entry(email)).record;
  }

  /**
   * Applies `change` to the approver's record as stored now and stores the result if nothing
   * changed it meanwhile, else reads and applies it again. `change` returns undefined to leave the
   * record as it is. Resolves with the record as stored and whether this call changed it.
   */
  async update(email: string, change: (record: ApproverPinRecord) => ApproverPinRecord | undefined): Promise<{ record: ApproverPinRecord; changed: boolean }> {
    const key = approverPinKey(email);
    for (let attempt = 1; ; attempt++) {
      const { record, revision } = await this.entry(email);
      const next = change(record);
      if (next === undefined) return { record, changed: false };
      try {
        await this.kv.put(key, JSON.stringify(next), { previousSeq: revision });
        return { record: next, changed: true };
      } catch (err) {
        const conflict = err instanceof JetStreamApiError && (err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);
        if (!conflict || attempt >= MAX_ATTEMPTS) throw err;
      }
    }
  }

  private async entry(email: string): Promise<{ record: ApproverPinRecord; revision: number }> {
    const key = approverPinKey(email);
    const entry = await this.kv.get(key);
    if (entry === null || entry.operation !== 'PUT') return { record: emptyPinRecord(email), revision: entry?.revision ?? 0 };
    const parsed = ApproverPinRecordSchema.safeParse(entry.json());
    if (!parsed.success) throw new Error(`the PIN record ${key} in KV ${APPROVER_PINS_BUCKET} is not one this build can read: ${parsed.error.message}`);
    return { record: parsed.data, revision: entry.revision };
  }
}
