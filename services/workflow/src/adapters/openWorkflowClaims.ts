// One open workflow per machine (CONTRACT §3): the KV bucket `mes_open_workflows` maps
// `{plantId}.{machineId}` to the machine's open workflow. A claim is a KV create, so of two copies
// (or two condition changes) racing for one machine exactly one wins; release deletes the entry only
// while it still names the workflow that releases it.
import { OPEN_WORKFLOWS_BUCKET } from '@mes/contracts';
import { DeliverPolicy, jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';

/** The header a KV delete or purge marker carries (values carry none). */
const KV_OPERATION_HEADER = 'KV-Operation';

export interface OpenWorkflow {
  plantId: string;
  machineId: string;
  workflowId: string;
  /** When the claim was stored (the NATS server's clock, RFC 3339): the workflow started after it. */
  claimedAt: string;
}

export class OpenWorkflowClaims {
  private constructor(
    private readonly kv: KV,
    private readonly js: JetStreamClient,
  ) {}

  static async open(nc: NatsConnection): Promise<OpenWorkflowClaims> {
    return new OpenWorkflowClaims(await new Kvm(nc).open(OPEN_WORKFLOWS_BUCKET), jetstream(nc));
  }

  /** Claims the machine for `workflowId`; false when another workflow is open for it. True again for the same workflow (a redelivery). */
  async claim(plantId: string, machineId: string, workflowId: string): Promise<boolean> {
    const key = machineKey(plantId, machineId);
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await this.kv.create(key, workflowId);
        return true;
      } catch {
        const entry = await this.kv.get(key);
        if (entry && entry.operation === 'PUT') return entry.string() === workflowId;
        // Deleted in between: the machine is free again; try to claim it once more.
      }
    }
    return false;
  }

  /** Frees the machine if `workflowId` still holds it; true when this call freed it. */
  async release(plantId: string, machineId: string, workflowId: string): Promise<boolean> {
    const key = machineKey(plantId, machineId);
    const entry = await this.kv.get(key);
    if (!entry || entry.operation !== 'PUT' || entry.string() !== workflowId) return false;
    try {
      await this.kv.delete(key, { previousSeq: entry.revision });
      return true;
    } catch {
      // Someone released or re-claimed it meanwhile; nothing of ours to free.
      return false;
    }
  }

  /**
   * Every open workflow of the plants given, read in one pass over the bucket's stream (the last
   * value of each key, through one ordered consumer), not a request per key.
   */
  async listOpen(plants: ReadonlySet<string>): Promise<OpenWorkflow[]> {
    const prefix = `$KV.${OPEN_WORKFLOWS_BUCKET}.`;
    const consumer = await this.js.consumers.get(`KV_${OPEN_WORKFLOWS_BUCKET}`, { filter_subjects: `${prefix}>`, deliver_policy: DeliverPolicy.LastPerSubject });
    if ((await consumer.info()).num_pending === 0) return [];
    const open: OpenWorkflow[] = [];
    const messages = await consumer.consume();
    try {
      for await (const msg of messages) {
        const operation = msg.headers?.get(KV_OPERATION_HEADER);
        const key = msg.subject.slice(prefix.length);
        const separator = key.indexOf('.');
        if (operation !== 'DEL' && operation !== 'PURGE' && separator > 0 && plants.has(key.slice(0, separator))) {
          open.push({ plantId: key.slice(0, separator), machineId: key.slice(separator + 1), workflowId: msg.string(), claimedAt: msg.time.toISOString() });
        }
        if (msg.info.pending === 0) break;
      }
    } finally {
      messages.stop();
    }
    return open;
  }
}

function machineKey(plantId: string, machineId: string): string {
  return `${plantId}.${machineId}`;
}
