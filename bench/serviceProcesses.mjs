// What the benchmarks that drive services as processes share: isolated brokers, a service entry
// point started as its own process (as a deployment runs it), and the CPU time of processes.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { clearTimeout, setTimeout } from 'node:timers';

/**
 * An isolated nats-server (JetStream) and two Mosquitto brokers on free ports, from the project's
 * test harness: one for the reference runs (the load generator alone, the raw pipe), one for the
 * system, whose persistent session would otherwise receive (and queue) the reference runs'
 * readings too.
 */
export async function startBrokers(root, { maxQueuedMessages }) {
  const { startNatsServer } = await import(join(root, 'platform/dist/testing/natsServer.js'));
  const { startMosquitto } = await import(join(root, 'platform/dist/testing/mosquitto.js'));
  const nats = await startNatsServer();
  // A broker queues what its subscriber has not read yet: keep every reading of the run.
  const reference = await startMosquitto({ maxQueuedMessages });
  const system = await startMosquitto({ maxQueuedMessages });
  return {
    natsUrl: nats.url,
    referenceMqttUrl: reference.url,
    systemMqttUrl: system.url,
    dispose: async () => Promise.all([nats.dispose(), reference.dispose(), system.dispose()]),
  };
}

/**
 * Runs `entry` (e.g. services/ingest/dist/main.js) with `env`; resolves once a JSON log line's
 * `msg` satisfies `ready`. Log lines at warn and above are passed to stderr with `name`.
 */
export function startServiceProcess(root, { name, entry, env, ready, nodeArgs = [], timeoutMs = 30_000 }) {
  const child = spawn(process.execPath, [...nodeArgs, join(root, entry)], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
  const started = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} was not ready within ${timeoutMs / 1000} s`)), timeoutMs);
    exited.then((how) => reject(new Error(`${name} exited (${how}) before it was ready`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      let entry;
      try {
        entry = JSON.parse(line);
      } catch {
        if (line.includes('is running')) {
          clearTimeout(timer);
          resolve();
        }
        return;
      }
      if (ready(entry.msg ?? '')) {
        clearTimeout(timer);
        resolve();
      }
      if (entry.level >= 40) process.stderr.write(`${name}: ${line}\n`);
    });
  });
  return {
    child,
    started,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); undefined elsewhere. */
export function cpuSecondsOf(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** This process's direct children named `name` (e.g. nats-server), from /proc; [] elsewhere. */
export function childPidsNamed(name) {
  try {
    const pids = readdirSync('/proc/self/task').flatMap((tid) => readFileSync(`/proc/self/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean));
    return pids.filter((pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === name);
  } catch {
    return [];
  }
}

/** CPU seconds of this process's children that have exited (and were waited for), from /proc. */
export function exitedChildrenCpu() {
  try {
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
    return (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return undefined;
  }
}

/** CPU seconds used so far by the brokers this process started (undefined off Linux or with external brokers). */
export function brokerCpu() {
  const sum = (name) => {
    const pids = childPidsNamed(name);
    return pids.length === 0 ? undefined : pids.reduce((total, pid) => total + (cpuSecondsOf(pid) ?? 0), 0);
  };
  return { nats: sum('nats-server'), mqtt: sum('mosquitto') };
}

export const spent = (before, after) => (before === undefined || after === undefined ? null : +(after - before).toFixed(2));

/** Runs a node script and resolves with its last stdout line, parsed as JSON. */
export function runNodeJson(root, script, scriptArgs) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...scriptArgs], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.once('error', reject);
    child.once('exit', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      try {
        if (code !== 0) throw new Error(`exited with ${code}`);
        resolve(JSON.parse(last));
      } catch (err) {
        reject(new Error(`${script} ${scriptArgs.join(' ')}: ${err.message}; output: ${out.slice(-2000)}`));
      }
    });
  });
}
