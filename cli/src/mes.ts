// Entry point of the `mes` command (bin/mes.js loads it once built).
import { runCli } from './mesCli.js';

const argv = process.argv.slice(2);
// `mes simulate` runs until its duration is over: the first Ctrl-C (or SIGTERM) asks it to stop and
// print its summary, a second one ends the process at once. Other commands keep Node's default.
const interrupt = new AbortController();
if (argv[0] === 'simulate') {
  const onSignal = () => {
    if (interrupt.signal.aborted) process.exit(130);
    interrupt.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

const code = await runCli(argv, { stdout: process.stdout, stderr: process.stderr, env: process.env, signal: interrupt.signal });
// Exit once the output is written, whatever handle a client library may still hold open.
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
