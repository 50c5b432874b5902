export { start } from './application/startMaintenance.js';
