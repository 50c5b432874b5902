// The approval of one maintenance order across escalation levels: a request per level (each a row
// of the Approvals table, CONTRACT §2), at most one decision, by the current level's approver only,
// before the request's decide-by time. The stream's order settles every race: a decision appended
// before the escalation or expiry stands (and they change nothing), one appended after is refused.
// A decision carries its signature (21 CFR 11.50): the request's approver, the time, what it means,
// and which components were verified; a request made where the plant signs with `link+pin` is
// decided only by a command that says the PIN was verified. The PIN itself never reaches the domain.
// One file on purpose (over 300 lines): the approval's commands, refusals and transitions read
// together, beside their given/when/then tests.
import {
  approvalSignatureMeaning,
  type ApprovalDecided,
  type ApprovalEmailSent,
  type ApprovalEscalated,
  type ApprovalExpired,
  type ApprovalRequested,
  type ApprovalSignatureFailed,
  type ApprovalWithdrawn,
  type ApproverSigningLocked,
  type ElectronicSignature,
  type Person,
  type RecordApprovalDecision,
  type RequestApproval,
  type SignatureMethod,
  type WithdrawApprovals,
} from '@mes/contracts';
import { DomainError, domainEventDecoder, type Decider } from '@mes/platform/decider';

export const APPROVAL_ERROR_CODES = [
  'APPROVAL_NOT_FOUND',
  'APPROVAL_ALREADY_EXISTS',
  'APPROVAL_INVALID_LEVEL',
  'APPROVAL_ALREADY_DECIDED',
  'APPROVAL_SUPERSEDED',
  'APPROVAL_EXPIRED',
  'APPROVAL_TOO_LATE',
  'APPROVAL_WITHDRAWN',
  'APPROVAL_WRONG_APPROVER',
  'APPROVAL_PIN_REQUIRED',
] as const;
export type ApprovalErrorCode = (typeof APPROVAL_ERROR_CODES)[number];

// Commands. The two the contracts define are taken as the fields the decider reads, so a whole
// contract command fits; the decision's time is its `issuedAt`.

/**
 * Level 0 starts the process; an escalation names the request it supersedes and the next level.
 * `signatureMethod` is the plant's setting when the request is made (default `link`).
 */
export type RequestApprovalCommand = Pick<
  RequestApproval,
  'type' | 'approvalId' | 'orderId' | 'plantId' | 'machineId' | 'approver' | 'level' | 'expiresAt' | 'supersedesApprovalId' | 'issuedAt'
> & { signatureMethod?: SignatureMethod };

/**
 * `signatureMethod`: the components of the signature the caller verified (default `link`: the
 * signed link alone); `link+pin` only once the approver's PIN was checked.
 */
export type RecordApprovalDecisionCommand = Pick<
  RecordApprovalDecision,
  'type' | 'approvalId' | 'decision' | 'approver' | 'comment' | 'clientAddress' | 'userAgent' | 'issuedAt'
> & { signatureMethod?: SignatureMethod };

/**
 * A decision was submitted with a wrong PIN. `consecutiveWrongPins` and `lockedUntil` come from
 * the approver's PIN record (kept outside the log), which counts across approvals; `lockedUntil`
 * is set when this failure locked the approver's signing.
 */
export interface RecordSignatureFailure {
  type: 'RecordSignatureFailure';
  approvalId: string;
  decision: 'approved' | 'rejected';
  consecutiveWrongPins: number;
  lockedUntil?: string;
  clientAddress: string;
  userAgent: string;
  issuedAt: string;
}

export interface RecordApprovalEmailSent {
  type: 'RecordApprovalEmailSent';
  approvalId: string;
  to: string;
  messageId?: string;
  issuedAt: string;
}

/** The last level's approver did not decide in time. */
export interface ExpireApproval {
  type: 'ExpireApproval';
  approvalId: string;
  issuedAt: string;
}

/** The order ended while its approval was pending: no decision is needed any more. */
export type WithdrawApprovalsCommand = Pick<WithdrawApprovals, 'type' | 'reason' | 'issuedAt'>;

export type ApprovalCommand = RequestApprovalCommand | RecordApprovalEmailSent | RecordApprovalDecisionCommand | RecordSignatureFailure | ExpireApproval | WithdrawApprovalsCommand;

export type ApprovalEvent =
  | ApprovalRequested
  | ApprovalEmailSent
  | ApprovalDecided
  | ApprovalSignatureFailed
  | ApproverSigningLocked
  | ApprovalEscalated
  | ApprovalExpired
  | ApprovalWithdrawn;

/** Status values of the Approvals table (CONTRACT §2), one per request. */
export const APPROVAL_REQUEST_STATUSES = ['Pending', 'Approved', 'Rejected', 'Expired', 'Superseded'] as const;
export type ApprovalRequestStatus = (typeof APPROVAL_REQUEST_STATUSES)[number];

/** Where the whole process stands: the status of its current request, or Withdrawn when its order ended first. */
export type ApprovalProcessStatus = 'Pending' | 'Approved' | 'Rejected' | 'Expired' | 'Withdrawn';

/** One request to one approver: an Approvals row, with the decision details of CONTRACT §4. */
export interface ApprovalRequestRecord {
  approvalId: string;
  orderId: string;
  approver: Person;
  level: number;
  status: ApprovalRequestStatus;
  requestedAt: string;
  /** The decide-by time: a decision must be recorded before it; then the request escalates or expires. */
  decideBy: string;
  /** The components a decision's signature needs. */
  signatureMethod: SignatureMethod;
  emailSentAt: string | null;
  decidedAt: string | null;
  /** The decision's signature, once decided. */
  signature: ElectronicSignature | null;
  comment: string | null;
  clientAddress: string | null;
  userAgent: string | null;
}

export interface ApprovalProcessState {
  orderId: string;
  plantId: string;
  machineId: string;
  status: ApprovalProcessStatus;
  /** The request of the highest level so far: the only one that can be decided. */
  currentApprovalId: string;
  /** Every request, oldest (level 0) first. */
  requests: readonly ApprovalRequestRecord[];
  /** Why no decision is needed any more, once withdrawn. */
  withdrawnReason?: string;
}

/** `null` until the first request. */
export type ApprovalState = ApprovalProcessState | null;

export function approvalStatus(state: ApprovalState): ApprovalProcessStatus | null {
  return state === null ? null : state.status;
}

export function findApprovalRequest(state: ApprovalState, approvalId: string): ApprovalRequestRecord | undefined {
  return state?.requests.find((request) => request.approvalId === approvalId);
}

export function currentApprovalRequest(state: ApprovalState): ApprovalRequestRecord | undefined {
  return state === null ? undefined : findApprovalRequest(state, state.currentApprovalId);
}

function sameEmail(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function notFound(approvalId: string, what: string): DomainError {
  return new DomainError('APPROVAL_NOT_FOUND', `approval ${approvalId} does not exist; it cannot be ${what}`, { approvalId });
}

function requireRequest(state: ApprovalState, approvalId: string, what: string): [ApprovalProcessState, ApprovalRequestRecord] {
  const request = findApprovalRequest(state, approvalId);
  if (state === null || request === undefined) throw notFound(approvalId, what);
  return [state, request];
}

function requested(command: RequestApprovalCommand): ApprovalRequested {
  return {
    type: 'ApprovalRequested',
    version: 3,
    data: {
      approvalId: command.approvalId,
      orderId: command.orderId,
      plantId: command.plantId,
      machineId: command.machineId,
      approver: command.approver,
      level: command.level,
      requestedAt: command.issuedAt,
      // The command's `expiresAt` is the decide-by time (its name predates ApprovalRequested v2).
      decideBy: command.expiresAt,
      signatureMethod: command.signatureMethod ?? 'link',
    },
  };
}

function requestApproval(command: RequestApprovalCommand, state: ApprovalState): ApprovalEvent[] {
  const known = findApprovalRequest(state, command.approvalId);
  if (known !== undefined) {
    // The same request again is a retried command.
    if (known.level === command.level && sameEmail(known.approver.email, command.approver.email)) return [];
    throw new DomainError(
      'APPROVAL_ALREADY_EXISTS',
      `approval ${command.approvalId} already exists for level ${String(known.level)} (${known.approver.email}); it cannot be requested again for level ${String(command.level)} (${command.approver.email})`,
      { approvalId: command.approvalId },
    );
  }
  const supersedes = command.supersedesApprovalId;
  if (supersedes === undefined) {
    if (state !== null) {
      throw new DomainError(
        'APPROVAL_ALREADY_EXISTS',
        `order ${state.orderId}'s approval was already requested as ${state.currentApprovalId}; an escalation must name the request it supersedes`,
        { approvalId: command.approvalId, currentApprovalId: state.currentApprovalId },
      );
    }
    if (command.level !== 0) {
      throw new DomainError(
        'APPROVAL_INVALID_LEVEL',
        `approval ${command.approvalId} starts order ${command.orderId}'s approval at level ${String(command.level)}; the first request is level 0`,
        { approvalId: command.approvalId, level: command.level },
      );
    }
    return [requested(command)];
  }
  const [process, superseded] = requireRequest(state, supersedes, `escalated by approval ${command.approvalId}`);
  // A timer for a level that is no longer current: decided, expired or escalated already.
  if (process.status !== 'Pending' || process.currentApprovalId !== supersedes) return [];
  if (command.level !== superseded.level + 1) {
    throw new DomainError(
      'APPROVAL_INVALID_LEVEL',
      `approval ${command.approvalId} escalates ${supersedes} (level ${String(superseded.level)}) to level ${String(command.level)}; escalation goes to level ${String(superseded.level + 1)}`,
      { approvalId: command.approvalId, level: command.level },
    );
  }
  return [
    {
      type: 'ApprovalEscalated',
      version: 1,
      data: {
        approvalId: supersedes,
        orderId: process.orderId,
        nextApprover: command.approver,
        level: command.level,
        escalatedAt: command.issuedAt,
      },
    },
    requested(command),
  ];
}

function recordEmailSent(command: RecordApprovalEmailSent, state: ApprovalState): ApprovalEvent[] {
  const [, request] = requireRequest(state, command.approvalId, 'emailed');
  // One email per request; a retried report changes nothing. A late one is still recorded,
  // whatever happened since: the email went out, and the audit should say so.
  if (request.emailSentAt !== null) return [];
  if (!sameEmail(command.to, request.approver.email)) {
    throw new DomainError(
      'APPROVAL_WRONG_APPROVER',
      `approval ${command.approvalId} is addressed to ${request.approver.email}; an email to ${command.to} is not its email`,
      { approvalId: command.approvalId, approver: request.approver.email },
    );
  }
  const data: ApprovalEmailSent['data'] = { approvalId: command.approvalId, to: command.to, sentAt: command.issuedAt };
  if (command.messageId !== undefined) data.messageId = command.messageId;
  return [{ type: 'ApprovalEmailSent', version: 1, data }];
}

/**
 * A decision counts when it is recorded before the request's decide-by time (`decideBy`, the
 * command's `issuedAt` being when it was submitted) and before anything else settled the request.
 */
function recordDecision(command: RecordApprovalDecisionCommand, state: ApprovalState): ApprovalEvent[] {
  const [process, request] = requireRequest(state, command.approvalId, command.decision);
  const details = { approvalId: command.approvalId, orderId: process.orderId };
  if (process.status === 'Withdrawn') {
    throw new DomainError(
      'APPROVAL_WITHDRAWN',
      `order ${process.orderId} no longer needs a decision (${process.withdrawnReason ?? 'withdrawn'}); approval ${command.approvalId} cannot be ${command.decision}`,
      details,
    );
  }
  if (process.status === 'Expired') {
    throw new DomainError(
      'APPROVAL_EXPIRED',
      `the approval of order ${process.orderId} expired without a decision; approval ${command.approvalId} cannot be ${command.decision} any more`,
      details,
    );
  }
  if (process.status !== 'Pending') {
    const decided = findApprovalRequest(process, process.currentApprovalId) ?? request;
    const recorded = process.status === 'Approved' ? 'approved' : 'rejected';
    // The same person submitting the same decision again (a double click, a retried command)
    // changes nothing; the decision recorded first stands.
    if (decided.approvalId === command.approvalId && recorded === command.decision && sameEmail(decided.approver.email, command.approver.email)) return [];
    throw new DomainError(
      'APPROVAL_ALREADY_DECIDED',
      `the approval of order ${process.orderId} was already ${recorded} by ${decided.approver.email} at ${decided.decidedAt ?? 'unknown'}; approval ${command.approvalId} cannot be ${command.decision} again`,
      { ...details, decision: recorded, decidedBy: decided.approver.email, decidedAt: decided.decidedAt },
    );
  }
  if (process.currentApprovalId !== command.approvalId) {
    const current = findApprovalRequest(process, process.currentApprovalId);
    throw new DomainError(
      'APPROVAL_SUPERSEDED',
      `approval ${command.approvalId} (level ${String(request.level)}) was escalated to ${current?.approver.email ?? 'the next approver'} (level ${String(current?.level ?? request.level + 1)}); it cannot be ${command.decision} any more`,
      { ...details, currentApprovalId: process.currentApprovalId },
    );
  }
  if (!sameEmail(command.approver.email, request.approver.email)) {
    throw new DomainError(
      'APPROVAL_WRONG_APPROVER',
      `approval ${command.approvalId} is for ${request.approver.email}; ${command.approver.email} cannot decide it`,
      { ...details, approver: request.approver.email },
    );
  }
  const signatureMethod = command.signatureMethod ?? 'link';
  if (request.signatureMethod === 'link+pin' && signatureMethod !== 'link+pin') {
    throw new DomainError(
      'APPROVAL_PIN_REQUIRED',
      `approval ${command.approvalId} must be signed with the link and ${request.approver.email}'s PIN (the plant signs with link+pin); a decision signed with the link alone cannot be recorded`,
      { ...details, signatureMethod: request.signatureMethod },
    );
  }
  // `!(a < b)` also refuses a time that does not parse.
  if (!(Date.parse(command.issuedAt) < Date.parse(request.decideBy))) {
    throw new DomainError(
      'APPROVAL_TOO_LATE',
      `approval ${command.approvalId} had to be decided by ${request.decideBy}; a decision at ${command.issuedAt} is too late (the request escalates or expires)`,
      { ...details, decideBy: request.decideBy },
    );
  }
  const data: ApprovalDecided['data'] = {
    approvalId: command.approvalId,
    orderId: process.orderId,
    decision: command.decision,
    approver: request.approver,
    decidedAt: command.issuedAt,
    clientAddress: command.clientAddress,
    userAgent: command.userAgent,
    // The request's approver signs: their printed name as configured when the request was made.
    signature: {
      printedName: request.approver.name,
      email: request.approver.email,
      signedAt: command.issuedAt,
      meaning: approvalSignatureMeaning(command.decision, process.orderId, process.machineId),
      method: signatureMethod,
    },
  };
  // An empty comment field in the form is no comment.
  if (command.comment !== undefined && command.comment.trim() !== '') data.comment = command.comment;
  return [{ type: 'ApprovalDecided', version: 2, data }];
}

function recordSignatureFailure(command: RecordSignatureFailure, state: ApprovalState): ApprovalEvent[] {
  const [process, request] = requireRequest(state, command.approvalId, `${command.decision} with a wrong PIN`);
  // Recorded whatever became of the request meanwhile: the attempt was made, and the audit shows it.
  const failed: ApprovalSignatureFailed = {
    type: 'ApprovalSignatureFailed',
    version: 1,
    data: {
      approvalId: command.approvalId,
      orderId: process.orderId,
      approver: request.approver,
      decision: command.decision,
      reason: 'wrong_pin',
      consecutiveWrongPins: command.consecutiveWrongPins,
      failedAt: command.issuedAt,
      clientAddress: command.clientAddress,
      userAgent: command.userAgent,
    },
  };
  if (command.lockedUntil === undefined) return [failed];
  return [
    failed,
    {
      type: 'ApproverSigningLocked',
      version: 1,
      data: {
        approvalId: command.approvalId,
        orderId: process.orderId,
        approver: request.approver,
        wrongPins: command.consecutiveWrongPins,
        lockedAt: command.issuedAt,
        lockedUntil: command.lockedUntil,
      },
    },
  ];
}

function expire(command: ExpireApproval, state: ApprovalState): ApprovalEvent[] {
  const [process] = requireRequest(state, command.approvalId, 'expired');
  // A timer for a level that is no longer current, or a retried expiry: nothing left to expire.
  if (process.status !== 'Pending' || process.currentApprovalId !== command.approvalId) return [];
  return [{ type: 'ApprovalExpired', version: 1, data: { approvalId: command.approvalId, orderId: process.orderId, expiredAt: command.issuedAt } }];
}

function withdraw(command: WithdrawApprovalsCommand, state: ApprovalState): ApprovalEvent[] {
  // Nothing was requested yet, or nothing is pending any more: nothing to withdraw.
  if (state === null) return [];
  return state.requests
    .filter((request) => request.status === 'Pending')
    .map((request) => ({
      type: 'ApprovalWithdrawn' as const,
      version: 1 as const,
      data: { approvalId: request.approvalId, orderId: state.orderId, reason: command.reason, withdrawnAt: command.issuedAt },
    }));
}

function decide(command: ApprovalCommand, state: ApprovalState): ApprovalEvent[] {
  switch (command.type) {
    case 'RequestApproval':
      return requestApproval(command, state);
    case 'RecordApprovalEmailSent':
      return recordEmailSent(command, state);
    case 'RecordApprovalDecision':
      return recordDecision(command, state);
    case 'RecordSignatureFailure':
      return recordSignatureFailure(command, state);
    case 'ExpireApproval':
      return expire(command, state);
    case 'WithdrawApprovals':
      return withdraw(command, state);
    default: {
      const _exhaustive: never = command;
      return _exhaustive;
    }
  }
}

function withRequest(
  state: ApprovalProcessState,
  approvalId: string,
  change: (request: ApprovalRequestRecord) => ApprovalRequestRecord,
): ApprovalProcessState {
  return { ...state, requests: state.requests.map((request) => (request.approvalId === approvalId ? change(request) : request)) };
}

function evolve(state: ApprovalState, event: ApprovalEvent): ApprovalState {
  if (event.type === 'ApprovalRequested') {
    const { data } = event;
    const request: ApprovalRequestRecord = {
      approvalId: data.approvalId,
      orderId: data.orderId,
      approver: { ...data.approver },
      level: data.level,
      status: 'Pending',
      requestedAt: data.requestedAt,
      decideBy: data.decideBy,
      signatureMethod: data.signatureMethod,
      emailSentAt: null,
      decidedAt: null,
      signature: null,
      comment: null,
      clientAddress: null,
      userAgent: null,
    };
    return {
      orderId: data.orderId,
      plantId: data.plantId,
      machineId: data.machineId,
      status: 'Pending',
      currentApprovalId: data.approvalId,
      requests: [...(state?.requests ?? []), request],
    };
  }
  // Every other event follows a request in a well-formed stream.
  if (state === null) return state;
  switch (event.type) {
    case 'ApprovalEmailSent':
      return withRequest(state, event.data.approvalId, (request) => ({ ...request, emailSentAt: event.data.sentAt }));
    case 'ApprovalEscalated':
      return withRequest(state, event.data.approvalId, (request) => ({ ...request, status: 'Superseded' }));
    case 'ApprovalDecided': {
      const { data } = event;
      const status = data.decision === 'approved' ? 'Approved' : 'Rejected';
      return {
        ...withRequest(state, data.approvalId, (request) => ({
          ...request,
          status,
          decidedAt: data.decidedAt,
          signature: data.signature,
          comment: data.comment ?? null,
          clientAddress: data.clientAddress,
          userAgent: data.userAgent,
        })),
        status,
      };
    }
    // A failed signature or a lock decides nothing; the count and the lock live in the approver's PIN record.
    case 'ApprovalSignatureFailed':
    case 'ApproverSigningLocked':
      return state;
    case 'ApprovalExpired':
      return { ...withRequest(state, event.data.approvalId, (request) => ({ ...request, status: 'Expired' })), status: 'Expired' };
    case 'ApprovalWithdrawn': {
      const withdrawn = withRequest(state, event.data.approvalId, (request) => ({ ...request, status: 'Superseded' }));
      return state.currentApprovalId === event.data.approvalId ? { ...withdrawn, status: 'Withdrawn', withdrawnReason: event.data.reason } : withdrawn;
    }
    default: {
      const _exhaustive: never = event;
      return _exhaustive;
    }
  }
}

export const approvalRequestDecider: Decider<ApprovalCommand, ApprovalEvent, ApprovalState> = {
  initialState: null,
  decide,
  evolve,
  decode: domainEventDecoder(
    'ApprovalRequested',
    'ApprovalEmailSent',
    'ApprovalDecided',
    'ApprovalSignatureFailed',
    'ApproverSigningLocked',
    'ApprovalEscalated',
    'ApprovalExpired',
    'ApprovalWithdrawn',
  ),
};
