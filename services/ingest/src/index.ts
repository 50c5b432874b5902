export { start } from './application/startIngest.js';
