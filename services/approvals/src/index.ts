export { DEFAULT_LINK_RATE_LIMIT, DEFAULT_LINK_TTL_MS, start } from './application/startApprovals.js';
export type { ApprovalsOptions } from './application/startApprovals.js';
