export { DEFAULT_LINK_RATE_LIMIT, DEFAULT_LINK_TTL_MS, start } from './application/startApprovals.js';
export type { ApprovalsOptions } from './application/startApprovals.js';
export { DEFAULT_ENROLMENT_LINK_TTL_MS } from './application/approverEnrolment.js';
export type { EnrolmentSent } from './application/approverEnrolment.js';
export { APPROVER_ENROLMENT_SUBJECT, ApproverEnrolmentError, requestApproverEnrolment } from './adapters/nats/enrolmentRequests.js';
export { MAX_WRONG_PINS, PIN_RULES, SIGNING_LOCK_MS } from './domain/approverPins.js';
