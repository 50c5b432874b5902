// The electronic signatures of an order, as the console and the API show them (CONTRACT §4,
// signature manifestation): the signer's printed name and email, when (UTC), and what the
// signature means in words. Pure: read from the order's audit entries.
import type { AuditEntry } from './auditTrail.js';

export interface OrderSignature {
  approvalId: string;
  decision: 'approved' | 'rejected';
  /** The signer's printed name. */
  name: string;
  email: string;
  /** ISO-8601, UTC. */
  signedAt: string;
  /** E.g. `Approved maintenance order MO_1 for machine M-1`. */
  meaning: string;
  comment: string | null;
}

interface DecidedData {
  approvalId?: unknown;
  decision?: unknown;
  approver?: { email?: unknown; name?: unknown };
  decidedAt?: unknown;
  comment?: unknown;
  meaning?: unknown;
}

export function signatureMeaning(decision: 'approved' | 'rejected', orderId: string, machineId: string): string {
  return `${decision === 'approved' ? 'Approved' : 'Rejected'} maintenance order ${orderId} for machine ${machineId}`;
}

/** One signature per ApprovalDecided entry, oldest first; an entry whose data is not readable is left out. */
export function orderSignatures(entries: readonly AuditEntry[], order: { orderId: string; machineId: string }): OrderSignature[] {
  const signatures: OrderSignature[] = [];
  for (const entry of entries) {
    if (entry.eventType !== 'ApprovalDecided') continue;
    const data = (entry.data ?? {}) as DecidedData;
    const decision = data.decision;
    const email = data.approver?.email;
    const name = data.approver?.name;
    if ((decision !== 'approved' && decision !== 'rejected') || typeof email !== 'string' || typeof name !== 'string' || typeof data.decidedAt !== 'string') continue;
    signatures.push({
      approvalId: typeof data.approvalId === 'string' ? data.approvalId : '',
      decision,
      name,
      email,
      signedAt: new Date(data.decidedAt).toISOString(),
      // A meaning recorded with the signature wins over the one said here.
      meaning: typeof data.meaning === 'string' && data.meaning !== '' ? data.meaning : signatureMeaning(decision, order.orderId, order.machineId),
      comment: typeof data.comment === 'string' && data.comment !== '' ? data.comment : null,
    });
  }
  return signatures;
}
