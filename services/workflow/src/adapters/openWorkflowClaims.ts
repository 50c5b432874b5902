// One open workflow per machine (CONTRACT §3): the KV bucket `mes_open_workflows` maps
// `{plantId}.{machineId}` to the machine's open workflow. A claim is a KV create, so of two copies
// (or two condition changes) racing for one machine exactly one wins; release deletes the entry only
// while it still names the workflow that releases it.
import { OPEN_WORKFLOWS_BUCKET } from '@mes/contracts';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';

export interface OpenWorkflow {
  plantId: string;
  machineId: string;
  workflowId: string;
}

export class OpenWorkflowClaims {
  private constructor(private readonly kv: KV) {}

  static async open(nc: NatsConnection): Promise<OpenWorkflowClaims> {
    return new OpenWorkflowClaims(await new Kvm(nc).open(OPEN_WORKFLOWS_BUCKET));
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
   * Every open workflow of the plants given, looked up `concurrency` at a time (the keys are listed
   * in one pass; their values are direct gets, which a sequential loop would wait for one by one).
   */
  async forEachOpen(plants: ReadonlySet<string>, concurrency: number, visit: (open: OpenWorkflow) => Promise<void>): Promise<number> {
    const keys: string[] = [];
    for await (const key of await this.kv.keys()) {
      const separator = key.indexOf('.');
      if (separator > 0 && plants.has(key.slice(0, separator))) keys.push(key);
    }
    let next = 0;
    let visited = 0;
    const worker = async (): Promise<void> => {
      while (next < keys.length) {
        const key = keys[next++]!;
        const entry = await this.kv.get(key);
        if (!entry || entry.operation !== 'PUT') continue;
        const separator = key.indexOf('.');
        await visit({ plantId: key.slice(0, separator), machineId: key.slice(separator + 1), workflowId: entry.string() });
        visited++;
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
    return visited;
  }
}

function machineKey(plantId: string, machineId: string): string {
  return `${plantId}.${machineId}`;
}
