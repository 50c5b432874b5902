// What opening (GET) and submitting (POST) an approval link does (CONTRACT §4). Opening reads and
// never writes, so a mail scanner fetching links decides nothing. Submitting records the decision
// of the request's approver, once: the approval aggregate refuses or ignores any later one.
// Where the request must be signed with link and PIN, the PIN is checked first: a wrong one
// records ApprovalSignatureFailed (and, the fifth in a row, ApproverSigningLocked) and decides
// nothing. The PIN goes to the check and nowhere else: not into an event, a log line or a page.
// One file over 300 lines on purpose: every outcome a link can have, decided in one place.
import { approvalSignatureMeaning, streamName, type ElectronicSignature, type Person, type SignatureMethod, type TelemetryReading } from '@mes/contracts';
import { DomainError, handleCommand, inSpan, parseRecordedEvent, stateFrom, type AggregateCache, type EventStore, type Logger, type RecordedDomainEvent } from '@mes/platform';
import type { LastMachineReading } from '../adapters/nats/lastMachineReading.js';
import { approvalDecisionOf, verifyApprovalLink, type ApprovalLinkDecision } from '../domain/approvalLinks.js';
import {
  approvalRequestDecider,
  currentApprovalRequest,
  findApprovalRequest,
  type ApprovalProcessState,
  type ApprovalRequestRecord,
  type ApprovalState,
} from '../domain/approvalRequest.js';
import { orderSummaryOf } from '../domain/orderSummary.js';
import { approvalStream } from './approvalCommands.js';
import type { ApproverSigning } from './approverSigning.js';

/** The Comment column of the Approvals table holds 2000 characters (CONTRACT §2). */
export const MAX_COMMENT_LENGTH = 2000;

/** Order statuses in which an approval decision still means something. */
const AWAITING_DECISION = 'PendingApproval';

export interface ApprovalLinkTarget {
  /** From the URL. */
  approvalId: string;
  decision: ApprovalLinkDecision;
  /** From the query string (GET) or the form (POST); anything a client sent. */
  token: unknown;
}

export interface DecisionSubmission {
  /** The form's comment field; anything a client sent. */
  comment: unknown;
  /** The form's PIN field (link+pin requests); anything a client sent. */
  pin?: unknown;
  clientAddress: string;
  userAgent: string;
}

export interface ApprovalOrderView {
  orderId: string;
  plantId: string;
  machineId: string;
  /** Null when the order stream holds no MaintenanceOrderOpened. */
  reason: string | null;
  status: string | null;
  openedAt: string | null;
}

export interface ApprovalRequestView {
  approvalId: string;
  decision: ApprovalLinkDecision;
  /** Who the link is for. */
  approver: Person;
  level: number;
  requestedAt: string;
  decideBy: string;
  /** The components the decision's signature needs. */
  signatureMethod: SignatureMethod;
  /** What deciding through this link signs, in words. */
  meaning: string;
  order: ApprovalOrderView;
}

export interface RecordedDecisionView {
  approvalId: string;
  decision: 'approved' | 'rejected';
  approver: Person;
  decidedAt: string;
  comment: string | null;
  /** The manifestation of the decision's signature. */
  signature: ElectronicSignature | null;
}

export type LastReadingView = { kind: 'reading'; reading: TelemetryReading } | { kind: 'none' } | { kind: 'unavailable' };

export type ApprovalLinkOutcome =
  /** Tampered, malformed, signed with another key, or not the token of this URL. */
  | { kind: 'not_valid' }
  | { kind: 'link_expired' }
  /** Signed by us, but the approval's stream has no such request. */
  | { kind: 'not_found'; approvalId: string }
  /** Signed for someone other than the request's approver. */
  | { kind: 'foreign'; approvalId: string }
  | { kind: 'superseded'; request: ApprovalRequestView; currentApprover: Person | null }
  | { kind: 'approval_expired'; request: ApprovalRequestView }
  /** The decide-by time passed: the request escalates or expires (or already did). */
  | { kind: 'too_late'; request: ApprovalRequestView }
  /** The order ended (cancelled, completed, expired) or the request was withdrawn: no decision is needed. */
  | { kind: 'not_needed'; request: ApprovalRequestView }
  | { kind: 'already_decided'; request: ApprovalRequestView; decided: RecordedDecisionView }
  | { kind: 'confirm'; request: ApprovalRequestView; lastReading: LastReadingView }
  | { kind: 'recorded'; request: ApprovalRequestView; decided: RecordedDecisionView }
  | { kind: 'comment_not_valid'; request: ApprovalRequestView; maxLength: number }
  /** A link+pin request, and the approver has no PIN yet. */
  | { kind: 'pin_not_enrolled'; request: ApprovalRequestView }
  /** Too many wrong PINs in a row; `lockedNow` when this submission's wrong PIN locked it. */
  | { kind: 'signing_locked'; request: ApprovalRequestView; until: string; lockedNow: boolean }
  /** No PIN given, or a wrong one (counted); nothing decided. `comment` is what the form held, to fill it again. */
  | { kind: 'pin_refused'; request: ApprovalRequestView; reason: 'missing' | 'wrong'; remaining: number | undefined; comment: string };

export interface ApprovalLinkDecisionsDeps {
  store: EventStore;
  /** The approval processes this process decided last (shared with the command handler and the outbox). */
  approvals?: AggregateCache<ApprovalState>;
  now: () => Date;
  approvalSecret: string;
  lastReading: LastMachineReading;
  /** The PIN check of link+pin requests. */
  signing: ApproverSigning;
  logger: Logger;
}

interface LoadedRequest {
  stream: string;
  events: RecordedDomainEvent[];
  process: ApprovalProcessState;
  request: ApprovalRequestRecord;
  view: ApprovalRequestView;
}

function sameEmail(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function decisionView(record: ApprovalRequestRecord): RecordedDecisionView {
  return {
    approvalId: record.approvalId,
    decision: record.status === 'Approved' ? 'approved' : 'rejected',
    approver: record.approver,
    decidedAt: record.decidedAt ?? '',
    comment: record.comment,
    signature: record.signature,
  };
}

/** Nothing longer can be a PIN; a longer text is still checked (and counted) as a wrong one. */
const MAX_PIN_INPUT = 64;

export class ApprovalLinkDecisions {
  constructor(private readonly deps: ApprovalLinkDecisionsDeps) {}

  /**
   * True when `token` is a link we signed for this URL's request and decision and it has not
   * expired: such a request is never throttled (CONTRACT §4); failed attempts are.
   */
  carriesValidLink(target: ApprovalLinkTarget): boolean {
    const verified = verifyApprovalLink(target.token, this.deps.approvalSecret, this.deps.now().getTime());
    return verified.ok && verified.claims.approvalId === target.approvalId && verified.claims.decision === target.decision;
  }

  /** GET: the confirmation page's content, or why the link cannot be used. Reads only. */
  async open(target: ApprovalLinkTarget): Promise<ApprovalLinkOutcome> {
    const loaded = await this.load(target);
    if (!loaded.ok) return loaded.outcome;
    const settled = this.settled(loaded.request);
    if (settled !== undefined) return settled;
    const { process, view } = loaded.request;
    if (view.signatureMethod === 'link+pin') {
      const readiness = await this.deps.signing.readiness(view.approver.email);
      if (readiness.kind === 'not_enrolled') return { kind: 'pin_not_enrolled', request: view };
      if (readiness.kind === 'locked') return { kind: 'signing_locked', request: view, until: readiness.until, lockedNow: false };
    }
    let lastReading: LastReadingView;
    try {
      const reading = await this.deps.lastReading(process.plantId, process.machineId);
      lastReading = reading === null ? { kind: 'none' } : { kind: 'reading', reading };
    } catch (err) {
      this.deps.logger.warn({ err, approvalId: view.approvalId }, 'the machine\'s last reading could not be read; the page shows it as unavailable');
      lastReading = { kind: 'unavailable' };
    }
    return { kind: 'confirm', request: view, lastReading };
  }

  /** POST: records the decision when the request still awaits one. */
  async submit(target: ApprovalLinkTarget, submission: DecisionSubmission): Promise<ApprovalLinkOutcome> {
    const loaded = await this.load(target);
    if (!loaded.ok) return loaded.outcome;
    const settled = this.settled(loaded.request);
    if (settled !== undefined) return settled;
    const { stream, events, request, view } = loaded.request;
    if (submission.comment !== undefined && typeof submission.comment !== 'string') return { kind: 'comment_not_valid', request: view, maxLength: MAX_COMMENT_LENGTH };
    const comment = (submission.comment ?? '').trim();
    if (comment.length > MAX_COMMENT_LENGTH) return { kind: 'comment_not_valid', request: view, maxLength: MAX_COMMENT_LENGTH };

    // The decision belongs to the workflow that asked for it: same correlation id as the request.
    const requested = events.find((event) => event.type === 'ApprovalRequested' && event.data.approvalId === request.approvalId);
    // The approver's click continues the incident's trace: its span's parent is the one that
    // recorded the request, so the allocation that follows is in the same trace as the reading.
    const decisionSpan = {
      kind: 'server',
      root: true,
      parent: requested,
      attributes: () => ({ 'http.request.method': 'POST', 'mes.approval_id': request.approvalId, 'mes.decision': target.decision, 'mes.correlation_id': requested?.correlationId ?? request.approvalId }),
    } as const;
    const context = { correlationId: requested?.correlationId ?? request.approvalId, causationId: requested?.eventId ?? null };
    let signatureMethod: SignatureMethod = 'link';
    if (request.signatureMethod === 'link+pin') {
      const refused = await this.checkPin(target, submission, loaded.request, comment, context);
      if (refused !== undefined) return refused;
      signatureMethod = 'link+pin';
    }
    try {
      const result = await inSpan('approval decision', decisionSpan, () => handleCommand(
        { store: this.deps.store, now: this.deps.now },
        approvalRequestDecider,
        stream,
        {
          type: 'RecordApprovalDecision',
          approvalId: request.approvalId,
          decision: approvalDecisionOf(target.decision),
          approver: request.approver,
          ...(comment === '' ? {} : { comment }),
          clientAddress: submission.clientAddress.slice(0, 256),
          userAgent: submission.userAgent.slice(0, 1024),
          signatureMethod,
          issuedAt: this.deps.now().toISOString(),
        },
        { ...context, actor: { kind: 'person', id: request.approver.email, name: request.approver.name } },
        { ...(this.deps.approvals === undefined ? {} : { cache: this.deps.approvals }) },
      ));
      const decided = findApprovalRequest(result.state, request.approvalId);
      if (result.events.length > 0 && decided !== undefined) return { kind: 'recorded', request: view, decided: decisionView(decided) };
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
    }
    // Decided, escalated or expired between the read and the append: show what stands now.
    const reloaded = await this.load(target);
    if (!reloaded.ok) return reloaded.outcome;
    const now = this.settled(reloaded.request);
    if (now === undefined) throw new Error(`approval ${request.approvalId}: the decision was neither recorded nor refused`);
    return now;
  }

  /** The refusal of a link+pin submission whose PIN is missing or wrong, or undefined when the PIN is the approver's. */
  private async checkPin(
    target: ApprovalLinkTarget,
    submission: DecisionSubmission,
    { stream, request, view }: LoadedRequest,
    comment: string,
    context: { correlationId: string; causationId: string | null },
  ): Promise<ApprovalLinkOutcome | undefined> {
    const { logger } = this.deps;
    const who = { approvalId: request.approvalId, approver: request.approver.email };
    const { pin } = submission;
    if (typeof pin !== 'string' || pin === '') return { kind: 'pin_refused', request: view, reason: 'missing', remaining: undefined, comment };
    const check = await this.deps.signing.check(request.approver.email, pin.slice(0, MAX_PIN_INPUT));
    switch (check.kind) {
      case 'right':
        return undefined;
      case 'not_enrolled':
        logger.info(who, 'decision refused: the approver has no PIN (link+pin)');
        return { kind: 'pin_not_enrolled', request: view };
      case 'locked':
        // Not recorded as an event: the PIN was not compared, and a held link must not grow the log without bound.
        logger.warn({ ...who, lockedUntil: check.until }, 'decision refused: the approver\'s signing is locked');
        return { kind: 'signing_locked', request: view, until: check.until, lockedNow: false };
      case 'wrong': {
        await handleCommand(
          { store: this.deps.store, now: this.deps.now },
          approvalRequestDecider,
          stream,
          {
            type: 'RecordSignatureFailure',
            approvalId: request.approvalId,
            decision: approvalDecisionOf(target.decision),
            consecutiveWrongPins: check.consecutiveWrongPins,
            ...(check.lockedNow && check.lockedUntil !== undefined ? { lockedUntil: check.lockedUntil } : {}),
            clientAddress: submission.clientAddress.slice(0, 256),
            userAgent: submission.userAgent.slice(0, 1024),
            // When the wrong PIN was counted: the lock, if it caused one, runs 15 minutes from then.
            issuedAt: check.countedAt,
          },
          { ...context, actor: { kind: 'service', id: 'approvals' } },
          { ...(this.deps.approvals === undefined ? {} : { cache: this.deps.approvals }) },
        );
        logger.warn({ ...who, consecutiveWrongPins: check.consecutiveWrongPins, lockedUntil: check.lockedUntil }, check.lockedNow ? 'decision refused: wrong PIN; signing locked' : 'decision refused: wrong PIN');
        if (check.lockedUntil !== undefined) return { kind: 'signing_locked', request: view, until: check.lockedUntil, lockedNow: check.lockedNow };
        return { kind: 'pin_refused', request: view, reason: 'wrong', remaining: check.remaining, comment };
      }
      default: {
        const _exhaustive: never = check;
        return _exhaustive;
      }
    }
  }

  private async load(target: ApprovalLinkTarget): Promise<{ ok: true; request: LoadedRequest } | { ok: false; outcome: ApprovalLinkOutcome }> {
    const verified = verifyApprovalLink(target.token, this.deps.approvalSecret, this.deps.now().getTime());
    if (!verified.ok) return { ok: false, outcome: verified.reason === 'expired' ? { kind: 'link_expired' } : { kind: 'not_valid' } };
    const { claims } = verified;
    // A valid token of another link: another request, or approve used for reject.
    if (claims.approvalId !== target.approvalId || claims.decision !== target.decision) return { ok: false, outcome: { kind: 'not_valid' } };
    const stream = approvalStream(claims.plantId, claims.orderId);
    const events = (await this.deps.store.readStream(stream)).events.map(parseRecordedEvent);
    const process = stateFrom(approvalRequestDecider, events);
    const request = findApprovalRequest(process, claims.approvalId);
    if (process === null || request === undefined) return { ok: false, outcome: { kind: 'not_found', approvalId: claims.approvalId } };
    if (!sameEmail(claims.approver, request.approver.email)) return { ok: false, outcome: { kind: 'foreign', approvalId: claims.approvalId } };
    const order = orderSummaryOf((await this.deps.store.readStream(streamName(claims.plantId, 'order', claims.orderId))).events);
    const view: ApprovalRequestView = {
      approvalId: request.approvalId,
      decision: claims.decision,
      approver: request.approver,
      level: request.level,
      requestedAt: request.requestedAt,
      decideBy: request.decideBy,
      signatureMethod: request.signatureMethod,
      meaning: approvalSignatureMeaning(approvalDecisionOf(claims.decision), process.orderId, process.machineId),
      order: {
        orderId: process.orderId,
        plantId: process.plantId,
        machineId: process.machineId,
        reason: order?.reason ?? null,
        status: order?.status ?? null,
        openedAt: order?.openedAt ?? null,
      },
    };
    return { ok: true, request: { stream, events, process, request, view } };
  }

  /** Why the request cannot be decided any more, or undefined while it awaits its decision. */
  private settled({ process, request, view }: LoadedRequest): ApprovalLinkOutcome | undefined {
    if (process.status === 'Approved' || process.status === 'Rejected') {
      const decided = currentApprovalRequest(process) ?? request;
      return { kind: 'already_decided', request: view, decided: decisionView(decided) };
    }
    if (process.status === 'Expired') return { kind: 'approval_expired', request: view };
    if (process.status === 'Withdrawn') return { kind: 'not_needed', request: view };
    // The order ended before its withdrawal reached this stream (cancelled moments ago).
    if (view.order.status !== null && view.order.status !== AWAITING_DECISION) return { kind: 'not_needed', request: view };
    if (request.status === 'Superseded') return { kind: 'superseded', request: view, currentApprover: currentApprovalRequest(process)?.approver ?? null };
    if (!(this.deps.now().getTime() < Date.parse(request.decideBy))) return { kind: 'too_late', request: view };
    return undefined;
  }
}
