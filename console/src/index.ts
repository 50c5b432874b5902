// The web console: a service for the process's HTTP server (`npm start` runs it with the others).
export { createConsoleService, startConsole } from './startConsole.js';
export type { ConsoleOptions } from './startConsole.js';
export { CONSOLE_CONTENT_SECURITY_POLICY } from './consolePages.js';
export { SESSION_COOKIE } from './consoleSession.js';
