export { start } from './application/startProjections.js';
