// Live updates: one EventSource on /api/stream. Each change notice bumps the version of its topic;
// a view reads again when a version it shows changes (gathered, so a burst costs one read).
import { createContext } from 'preact';
import { useContext, useEffect, useRef, useState } from 'preact/hooks';
import { ApiProblem, getJson } from './api.js';
import type { Topic } from './types.js';

export type Versions = Record<Topic, number>;

export interface LiveState {
  connected: boolean;
  versions: Versions;
}

const ZERO: Versions = { orders: 0, machines: 0, approvals: 0, resources: 0, deadLetters: 0, projections: 0 };
const TOPICS = Object.keys(ZERO) as Topic[];
/** Longest a view waits after a notice before it reads again. */
const GATHER_MS = 300;

export const LiveContext = createContext<LiveState>({ connected: false, versions: ZERO });

export function useLiveStream(): LiveState {
  const [state, setState] = useState<LiveState>({ connected: false, versions: ZERO });
  useEffect(() => {
    const source = new EventSource('/api/stream');
    let pending = new Set<Topic>();
    let timer: number | undefined;
    const bump = (topics: Iterable<Topic>) => {
      for (const topic of topics) pending.add(topic);
      timer ??= window.setTimeout(() => {
        const changed = pending;
        pending = new Set();
        timer = undefined;
        setState((current) => {
          const versions = { ...current.versions };
          for (const topic of changed) versions[topic]++;
          return { ...current, versions };
        });
      }, GATHER_MS);
    };
    source.addEventListener('ready', () => {
      setState((current) => ({ ...current, connected: true }));
      // Whatever happened while the stream was down is read again.
      bump(TOPICS);
    });
    source.addEventListener('change', (event) => {
      const body = JSON.parse((event as MessageEvent<string>).data) as { notices: { topic: Topic }[]; everything?: boolean };
      bump(body.everything ? TOPICS : body.notices.map((notice) => notice.topic));
    });
    source.addEventListener('error', () => {
      setState((current) => ({ ...current, connected: false }));
      // A closed stream (e.g. the session ended) is not retried by the browser: see whether we are still signed in.
      if (source.readyState === EventSource.CLOSED) void getJson('/api/console/session').catch(() => undefined);
    });
    return () => {
      window.clearTimeout(timer);
      source.close();
    };
  }, []);
  return state;
}

export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  reload(): void;
}

/** Reads `path` (undefined: nothing to read yet), again when it changes or a topic's version does. */
export function useApi<T>(path: string | undefined, topics: readonly Topic[]): Loaded<T> {
  const { versions } = useContext(LiveContext);
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const [manual, setManual] = useState(0);
  const latest = useRef(0);
  const versionKey = topics.map((topic) => versions[topic]).join('.');
  useEffect(() => {
    if (path === undefined) return;
    const request = ++latest.current;
    setLoading(true);
    getJson<T>(path).then(
      (value) => {
        if (request !== latest.current) return;
        setData(value);
        setError(undefined);
        setLoading(false);
      },
      (err: unknown) => {
        if (request !== latest.current) return;
        setError(err instanceof ApiProblem ? `${err.message} (${err.code})` : `could not read ${path}: ${(err as Error).message}`);
        setLoading(false);
      },
    );
  }, [path, versionKey, manual]);
  return { data, error, loading, reload: () => setManual((n) => n + 1) };
}
