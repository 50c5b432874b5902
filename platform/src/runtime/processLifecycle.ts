// The one way a process of this project lives and dies: start, print its banner, run until SIGINT
// or SIGTERM, then stop gracefully; a second signal exits at once (130). A signal during start-up
// stops it as soon as start-up is done. A start-up failure prints one clear message and exits 1.

export interface StartedProcess {
  /** Lines for the person at the console. */
  banner: string[];
  /** Stops everything started; rejects (or resolves false) when something did not stop cleanly. */
  stop(): Promise<boolean | void>;
}

export interface ProcessLifecycleOptions {
  /** The message for a start-up failure. Default: `{name}: cannot start: {message}`. */
  describeStartFailure?(err: unknown): string;
  /** Said when stopping begins and when it ends. */
  say?(line: string): void;
}

export async function runUntilSignalled(name: string, start: () => Promise<StartedProcess>, options: ProcessLifecycleOptions = {}): Promise<void> {
  const say = options.say ?? ((line: string) => void process.stdout.write(`${line}\n`));
  let started: StartedProcess | undefined;
  let stopRequested: NodeJS.Signals | undefined;

  const stop = async (signal: NodeJS.Signals): Promise<never> => {
    say(`${name}: ${signal}: stopping (again to exit at once).`);
    let clean: boolean;
    try {
      clean = (await started!.stop()) !== false;
    } catch (err) {
      process.stderr.write(`${name}: error while stopping: ${(err as Error).message}\n`);
      clean = false;
    }
    say(clean ? `${name} stopped.` : `${name} stopped, with errors (see above).`);
    process.exit(clean ? 0 : 1);
  };

  const onSignal = (signal: NodeJS.Signals) => {
    if (stopRequested !== undefined) {
      process.stderr.write(`${name}: ${signal} again: exiting without waiting.\n`);
      process.exit(130);
    }
    stopRequested = signal;
    if (started !== undefined) void stop(signal);
    else say(`${name}: stopping as soon as start-up is done (again to exit at once).`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    started = await start();
  } catch (err) {
    process.stderr.write(`${options.describeStartFailure?.(err) ?? `${name}: cannot start: ${(err as Error).message}`}\n`);
    process.exit(1);
  }
  if (stopRequested !== undefined) await stop(stopRequested);
  say(started.banner.join('\n'));
}
