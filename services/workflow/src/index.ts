export { start } from './application/startWorkflow.js';
