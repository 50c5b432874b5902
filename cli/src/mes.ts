// Entry point of the `mes` command (bin/mes.js loads it once built).
import { runCli } from './mesCli.js';

const code = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
// Exit once the output is written, whatever handle a client library may still hold open.
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
