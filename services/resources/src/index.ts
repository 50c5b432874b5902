export { start } from './application/startResources.js';
