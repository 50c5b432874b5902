// Other spellings of one path that a router or a proxy may take for the same route: what an
// attacker tries to walk around a check made on the URL text (CONTRACT §5).
import { request } from 'node:http';

/** The same path spelled other ways: encoded letters, case, doubled, trailing and dot segments, encoded slashes. */
export function pathSpellings(path: string): string[] {
  const segments = path.split('/').slice(1);
  const [first = '', ...rest] = segments;
  const last = segments.at(-1) ?? '';
  const encodeFirstLetter = (segment: string) => (segment === '' ? segment : `%${segment.charCodeAt(0).toString(16)}${segment.slice(1)}`);
  const encodeUpper = (segment: string) => (segment === '' ? segment : `%${segment.charCodeAt(0).toString(16).toUpperCase()}${segment.slice(1)}`);
  const join = (parts: string[]) => `/${parts.join('/')}`;
  const spellings = [
    path,
    join([encodeFirstLetter(first), ...rest]),
    join([encodeUpper(first), ...rest]),
    join([...segments.slice(0, -1), encodeFirstLetter(last)]),
    join(segments.map(encodeFirstLetter)),
    path.toUpperCase(),
    join([first.charAt(0).toUpperCase() + first.slice(1), ...rest]),
    `/${path}`,
    path.replace('/', '//'),
    `${join([first])}//${rest.join('/')}`,
    `${path}/`,
    `${path}//`,
    `/.${path}`,
    `/./${first}/./${rest.join('/')}`,
    `/x/..${path}`,
    `/x/%2e%2e${path}`,
    `/%2e${path}`,
    `${path}/.`,
    `${path}/x/..`,
    `/${first}%2f${rest.join('%2f')}`,
    `/${first}%2F${rest.join('%2F')}`,
    `/${first};x/${rest.join('/')}`,
    `${path};x`,
    `${path}%00`,
    `${path}?`,
    `${path}#x`,
    `/${first}\\${rest.join('\\')}`,
  ];
  return [...new Set(spellings)];
}

export interface RawResponse {
  status: number;
  body: string;
}

/** Sends `path` exactly as written (fetch would normalise dot segments first). */
export function rawRequest(baseUrl: string, method: string, path: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, headers: { ...headers, connection: 'close' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (method === 'POST' || method === 'PUT' || method === 'PATCH' || method === 'DELETE') {
      req.setHeader('content-type', 'application/json');
      req.end(JSON.stringify({ reason: 'spelling test', by: 'attacker' }));
    } else req.end();
  });
}
