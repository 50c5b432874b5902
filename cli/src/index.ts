// The `mes` command line as a function, for tests that run it in process.
export { runCli } from './mesCli.js';
export type { CliIo } from './mesCli.js';
