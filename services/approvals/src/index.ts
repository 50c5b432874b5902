export { start } from './application/startApprovals.js';
