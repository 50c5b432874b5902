// Static checks of the deployment files (no container engine or cluster runs here): every YAML file
// parses, compose.yaml is valid against the Compose Specification's JSON schema, every Kubernetes
// object against Kubernetes' schema for its apiVersion and kind, and the files agree with each other
// and with the code: two copies and /health probes everywhere, budgets and Services that select real
// workloads, and one HTTP address that sends every route the code registers to the service that
// serves it (the route table in deploy/README.md).
import { Ajv, type ValidateFunction } from 'ajv';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parsePlantConfigText } from '@mes/platform';
import { describe, expect, it } from 'vitest';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';

const deployDir = dirname(fileURLToPath(import.meta.url));
const repoDir = dirname(deployDir);
const kubernetesDir = join(deployDir, 'kubernetes');
const require = createRequire(import.meta.url);

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const objectAt = (value: unknown, ...path: string[]): Json => {
  let node: unknown = value;
  for (const key of path) node = isObject(node) ? node[key] : undefined;
  return isObject(node) ? node : {};
};
const listAt = (value: unknown, ...path: string[]): unknown[] => {
  const [last, ...reversed] = [...path].reverse();
  const node = last === undefined ? value : objectAt(value, ...reversed.reverse())[last];
  return Array.isArray(node) ? node : [];
};
const textAt = (value: unknown, ...path: string[]): string | undefined => {
  const [last, ...reversed] = [...path].reverse();
  const node = last === undefined ? value : objectAt(value, ...reversed.reverse())[last];
  return typeof node === 'string' ? node : typeof node === 'number' ? String(node) : undefined;
};
const clone = <T>(value: T): T => structuredClone(value);

function filesUnder(dir: string, accept: (path: string) => boolean): string[] {
  return readdirSync(dir)
    .flatMap((name) => {
      const path = join(dir, name);
      if (name === 'node_modules' || name === 'dist') return [];
      return statSync(path).isDirectory() ? filesUnder(path, accept) : accept(path) ? [path] : [];
    })
    .sort();
}

/** Every document of a YAML file, with YAML merge keys (`<<:`) applied as Compose applies them. */
function readYaml(path: string): unknown[] {
  const documents = parseAllDocuments(readFileSync(path, 'utf8'), { merge: true, uniqueKeys: true });
  if (!Array.isArray(documents)) return [];
  for (const document of documents) {
    const problem = document.errors[0] ?? document.warnings[0];
    if (problem) throw new Error(`${relative(repoDir, path)}: ${problem.message}`);
  }
  return documents.map((document) => document.toJS() as unknown).filter((value) => value !== null);
}

const yamlFiles = filesUnder(deployDir, (path) => /\.ya?ml$/.test(path));
const compose = objectAt(readYaml(join(deployDir, 'compose.yaml'))[0]);
const composeServices = objectAt(compose, 'services');

const NOT_MANIFESTS = new Set(['kustomization.yaml', 'nats-values.yaml']);
interface Manifest {
  file: string;
  object: Json;
}
const manifests: Manifest[] = filesUnder(kubernetesDir, (path) => !NOT_MANIFESTS.has(relative(kubernetesDir, path)) && path.endsWith('.yaml')).flatMap(
  (path) => readYaml(path).map((object) => ({ file: relative(deployDir, path), object: objectAt(object) })),
);
const natsValues = objectAt(readYaml(join(kubernetesDir, 'nats-values.yaml'))[0]);
const kustomization = objectAt(readYaml(join(kubernetesDir, 'kustomization.yaml'))[0]);

// ---------- schemas ----------

/** The Compose Specification's schema, as shipped by dclint (a maintained Compose linter). */
function composeValidator(): ValidateFunction {
  const schemaPath = join(dirname(require.resolve('dclint/package.json')), 'schemas', 'compose.schema.json');
  const schema = JSON.parse(readFileSync(schemaPath, 'utf8')) as Json;
  // The compose-spec schema names draft-07 by its https address; Ajv knows it under http.
  const draft07 = require('ajv/dist/refs/json-schema-draft-07.json') as Json;
  // strictTypes off: the schema's style (union types, keywords without a sibling "type") is valid
  // JSON Schema that Ajv's strict mode would only warn about.
  const ajv = new Ajv({ allErrors: true, strictTypes: false });
  ajv.addMetaSchema({ ...draft07, $id: String(schema.$schema) });
  return ajv.compile(schema);
}
const validateCompose = composeValidator();

function composeSchemaProblems(file: unknown): string[] {
  if (validateCompose(file)) return [];
  return (validateCompose.errors ?? []).map((error) => `compose.yaml${error.instancePath}: ${error.message ?? error.keyword} ${JSON.stringify(error.params)}`);
}

interface KubernetesModel {
  validate(): void;
}
type KubernetesModelClass = new (data: Json) => KubernetesModel;

/** Kubernetes' schema for the object's apiVersion and kind, compiled by Ajv in kubernetes-models (Kubernetes 1.33 API). */
function kubernetesSchemaProblems(manifest: Manifest): string[] {
  const apiVersion = textAt(manifest.object, 'apiVersion');
  const kind = textAt(manifest.object, 'kind');
  const where = `${manifest.file} ${kind ?? '?'} ${textAt(manifest.object, 'metadata', 'name') ?? '?'}`;
  if (apiVersion === undefined || kind === undefined) return [`${where}: no apiVersion or kind`];
  let model: KubernetesModelClass | undefined;
  try {
    model = (require(`kubernetes-models/${apiVersion}/${kind}`) as Record<string, KubernetesModelClass | undefined>)[kind];
  } catch {
    model = undefined;
  }
  if (model === undefined) return [`${where}: no Kubernetes schema for ${apiVersion} ${kind}`];
  try {
    new model(manifest.object).validate();
    return [];
  } catch (error) {
    return [`${where}: ${(error as Error).message}`];
  }
}

/**
 * Unknown fields, which the schemas above let through (as the API server does without strict field
 * validation): each object is type-checked, in memory, as an object literal of kubernetes-models'
 * TypeScript interface for its kind, where TypeScript refuses any property the interface lacks.
 */
function unknownFieldProblems(list: Manifest[]): string[] {
  const sources = new Map<string, Manifest>();
  const text = new Map<string, string>();
  list.forEach((manifest, index) => {
    const path = join(deployDir, '__in_memory__', `manifest${index}.ts`);
    const kind = textAt(manifest.object, 'kind') ?? '?';
    sources.set(path, manifest);
    text.set(path, `import type { I${kind} } from 'kubernetes-models/${textAt(manifest.object, 'apiVersion') ?? '?'}/${kind}';\nexport const manifest: I${kind} = ${JSON.stringify(manifest.object)};\n`);
  });
  const options: ts.CompilerOptions = { strict: true, noEmit: true, skipLibCheck: true, types: [], target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, language, ...rest) => (text.has(name) ? ts.createSourceFile(name, text.get(name)!, language) : getSourceFile.call(host, name, language, ...rest));
  host.fileExists = (name) => text.has(name) || fileExists.call(host, name);
  host.readFile = (name) => text.get(name) ?? readFile.call(host, name);
  const program = ts.createProgram([...text.keys()], options, host);
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const manifest = diagnostic.file && sources.get(diagnostic.file.fileName);
    const where = manifest ? `${manifest.file} ${textAt(manifest.object, 'kind') ?? '?'} ${textAt(manifest.object, 'metadata', 'name') ?? '?'}` : (diagnostic.file?.fileName ?? 'TypeScript');
    return `${where}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ')}`;
  });
}

// ---------- what the code registers, and the route table ----------

type Owner = string;
interface Route {
  method: string;
  path: string;
}
const routeKey = (route: Route) => `${route.method} ${route.path}`;

/** "METHOD /path" -> the service whose code registers it: services/<name>, `console` for app/ and console/, `every` for platform/. */
function registeredRoutes(): Map<string, Owner> {
  const sources = [
    ...readdirSync(join(repoDir, 'services')).map((name) => join(repoDir, 'services', name, 'src')),
    join(repoDir, 'app', 'src'),
    join(repoDir, 'console', 'src'),
    join(repoDir, 'platform', 'src'),
  ];
  const routes = new Map<string, Owner>();
  const registration = /\.(get|post|put|patch|delete)\s*(?:<[^()]*?>)?\s*\(\s*'(\/[^']*)'/g;
  for (const dir of sources) {
    const owner = dir.includes(`${join(repoDir, 'services')}/`) ? relative(join(repoDir, 'services'), dir).split('/')[0]! : dir.startsWith(join(repoDir, 'app')) || dir.startsWith(join(repoDir, 'console')) ? 'console' : 'every';
    for (const file of filesUnder(dir, (path) => path.endsWith('.ts') && !path.endsWith('.test.ts') && !path.includes('/testing/'))) {
      for (const match of readFileSync(file, 'utf8').matchAll(registration)) routes.set(routeKey({ method: match[1]!.toUpperCase(), path: match[2]! }), owner);
    }
  }
  return routes;
}

/** deploy/README.md's route table: "| `METHOD /path` | owner | why |". */
function routeTable(readme: string): Map<string, Owner> {
  const table = new Map<string, Owner>();
  for (const match of readme.matchAll(/^\|\s*`(GET|POST|PUT|PATCH|DELETE) (\/[^`]*)`\s*\|\s*([^|]+?)\s*\|/gm)) table.set(`${match[1]} ${match[2]}`, match[3]!.replace(/`/g, ''));
  return table;
}

function routeTableProblems(registered: Map<string, Owner>, table: Map<string, Owner>): string[] {
  const problems: string[] = [];
  for (const [route, owner] of registered) {
    const listed = table.get(route);
    if (listed === undefined) problems.push(`${route} (registered by ${owner}) is missing from the route table in deploy/README.md`);
    else if (owner !== 'every' && listed !== owner && !(listed === 'none' && route.includes(' /dev/'))) problems.push(`${route} is registered by ${owner} but the route table says ${listed}`);
  }
  for (const route of table.keys()) if (!registered.has(route)) problems.push(`${route} is in the route table but no code registers it`);
  return problems;
}

/** A concrete request path for a route pattern: `/api/orders/:orderId/audit` -> `/api/orders/MO_1/audit`. */
const samplePath = (path: string) => path.replace(/:[A-Za-z]+/g, (name) => (name === ':decision' ? 'approve' : 'MO_1'));

// ---------- the compose proxy (nginx) ----------

interface NginxLocation {
  modifier: '' | '=' | '~' | '~*' | '^~';
  pattern: string;
  /** The upstream it proxies to, or `return NNN`. */
  target: string;
}
interface NginxConfig {
  upstreams: Map<string, string[]>;
  locations: NginxLocation[];
}

/** Reads the parts of nginx.conf that route: upstream blocks and the server's flat locations. */
function parseNginx(text: string): NginxConfig {
  const code = text.replace(/#[^\n]*/g, '');
  const upstreams = new Map<string, string[]>();
  for (const match of code.matchAll(/upstream\s+(\S+)\s*\{([^}]*)\}/g)) {
    upstreams.set(match[1]!, [...match[2]!.matchAll(/server\s+([^\s:;]+)/g)].map((server) => server[1]!));
  }
  const locations: NginxLocation[] = [];
  for (const match of code.matchAll(/location\s+(?:(=|~\*|~|\^~)\s+)?(\S+)\s*\{([^}]*)\}/g)) {
    const body = match[3]!;
    const target = /proxy_pass\s+http:\/\/([^/;\s]+)/.exec(body)?.[1] ?? (/return\s+(\d+)/.exec(body) ? `return ${/return\s+(\d+)/.exec(body)![1]}` : 'nothing');
    locations.push({ modifier: (match[1] ?? '') as NginxLocation['modifier'], pattern: match[2]!, target });
  }
  return { upstreams, locations };
}

/** nginx's choice: an exact match; else the longest prefix if `^~`; else the first matching regex; else the longest prefix. */
function nginxTarget(config: NginxConfig, path: string): string | undefined {
  const exact = config.locations.find((location) => location.modifier === '=' && location.pattern === path);
  if (exact) return exact.target;
  const prefixes = config.locations.filter((location) => (location.modifier === '' || location.modifier === '^~') && path.startsWith(location.pattern));
  const longest = prefixes.sort((a, b) => b.pattern.length - a.pattern.length)[0];
  if (longest?.modifier === '^~') return longest.target;
  const regex = config.locations.find((location) => (location.modifier === '~' || location.modifier === '~*') && new RegExp(location.pattern, location.modifier === '~*' ? 'i' : '').test(path));
  return regex?.target ?? longest?.target;
}

/** The service a compose service runs, from its command: services/<name>/dist/main.js, or app/dist/main.js (console). */
function composeRole(service: unknown): string | undefined {
  const entry = listAt(service, 'command').find((part) => typeof part === 'string' && part.endsWith('dist/main.js'));
  if (typeof entry !== 'string') return undefined;
  return entry.startsWith('app/') ? 'console' : /^services\/([^/]+)\//.exec(entry)?.[1];
}

/** Compose DNS names (service names and network aliases) -> the roles of the services behind them. */
function composeNames(services: Json): Map<string, Set<string>> {
  const names = new Map<string, Set<string>>();
  for (const [name, service] of Object.entries(services)) {
    const role = composeRole(service) ?? name;
    const aliases = Object.values(objectAt(service, 'networks')).flatMap((network) => listAt(network, 'aliases'));
    for (const dnsName of [name, ...aliases]) {
      if (typeof dnsName === 'string') names.set(dnsName, (names.get(dnsName) ?? new Set()).add(role));
    }
  }
  return names;
}

function proxyProblems(config: NginxConfig, table: Map<string, Owner>, services: Json): string[] {
  const problems: string[] = [];
  const names = composeNames(services);
  for (const [upstream, servers] of config.upstreams) {
    for (const server of servers) {
      const roles = names.get(server);
      if (!roles) problems.push(`nginx upstream ${upstream}: ${server} is no compose service or alias`);
      else if ([...roles].some((role) => role !== upstream)) problems.push(`nginx upstream ${upstream}: ${server} runs ${[...roles].join(', ')}`);
    }
  }
  for (const [route, owner] of table) {
    const path = samplePath(route.slice(route.indexOf(' ') + 1));
    const target = nginxTarget(config, path);
    const expected = owner === 'none' ? ['return 404'] : [owner];
    if (target === undefined || !expected.includes(target)) problems.push(`nginx sends ${route} (as ${path}) to ${target ?? 'nowhere'}, not ${expected.join(' or ')}`);
    else if (owner !== 'none' && !config.upstreams.has(target)) problems.push(`nginx sends ${route} to an undefined upstream ${target}`);
  }
  return problems;
}

// ---------- Kubernetes ----------

const byKind = (kind: string, list: Manifest[] = manifests) => list.filter((manifest) => manifest.object.kind === kind).map((manifest) => manifest.object);
const WORKLOAD_KINDS = ['Deployment', 'StatefulSet'];
const workloads = (list: Manifest[] = manifests) => list.filter((manifest) => WORKLOAD_KINDS.includes(String(manifest.object.kind))).map((manifest) => manifest.object);
const nameOf = (object: Json) => textAt(object, 'metadata', 'name') ?? '?';
const podLabels = (workload: Json) => objectAt(workload, 'spec', 'template', 'metadata', 'labels');
const selects = (selector: Json, labels: Json) => Object.keys(selector).length > 0 && Object.entries(selector).every(([key, value]) => labels[key] === value);
const containersOf = (workload: Json) => listAt(workload, 'spec', 'template', 'spec', 'containers').map((container) => objectAt(container));
const isServiceWorkload = (workload: Json) => containersOf(workload).some((container) => textAt(container, 'image')?.startsWith('mes:') === true);

function kubernetesRole(workload: Json): string | undefined {
  const entry = containersOf(workload)
    .flatMap((container) => listAt(container, 'command'))
    .find((part) => typeof part === 'string' && part.endsWith('dist/main.js'));
  if (typeof entry !== 'string') return undefined;
  return entry.startsWith('app/') ? 'console' : /^services\/([^/]+)\//.exec(entry)?.[1];
}

function workloadProblems(list: Manifest[]): string[] {
  const problems: string[] = [];
  const budgets = byKind('PodDisruptionBudget', list);
  for (const workload of workloads(list).filter(isServiceWorkload)) {
    const where = `${String(workload.kind)} ${nameOf(workload)}`;
    const replicas = objectAt(workload, 'spec').replicas;
    if (typeof replicas !== 'number' || replicas < 2) problems.push(`${where}: replicas must be at least 2 (got ${String(replicas)})`);
    for (const container of containersOf(workload)) {
      for (const probe of ['livenessProbe', 'readinessProbe']) {
        if (textAt(container, probe, 'httpGet', 'path') !== '/health') problems.push(`${where}: container ${textAt(container, 'name') ?? '?'} has no ${probe} on GET /health`);
      }
    }
    if (!budgets.some((budget) => selects(objectAt(budget, 'spec', 'selector', 'matchLabels'), podLabels(workload)))) problems.push(`${where}: no PodDisruptionBudget selects its pods`);
  }
  for (const budget of budgets) {
    if (!workloads(list).some((workload) => selects(objectAt(budget, 'spec', 'selector', 'matchLabels'), podLabels(workload)))) {
      problems.push(`PodDisruptionBudget ${nameOf(budget)} selects no Deployment or StatefulSet`);
    }
  }
  for (const service of byKind('Service', list)) {
    if (!workloads(list).some((workload) => selects(objectAt(service, 'spec', 'selector'), podLabels(workload)))) problems.push(`Service ${nameOf(service)} selects no workload`);
  }
  return problems;
}

interface IngressPath {
  path: string;
  service: string;
  port: string | undefined;
}

function ingressPaths(list: Manifest[]): IngressPath[] {
  return byKind('Ingress', list).flatMap((ingress) =>
    listAt(ingress, 'spec', 'rules').flatMap((rule) =>
      listAt(rule, 'http', 'paths').map((entry) => ({
        path: textAt(entry, 'path') ?? '',
        service: textAt(entry, 'backend', 'service', 'name') ?? '',
        port: textAt(entry, 'backend', 'service', 'port', 'name') ?? textAt(entry, 'backend', 'service', 'port', 'number'),
      })),
    ),
  );
}

/** ingress-nginx with use-regex: every path a case-insensitive regex anchored at the start, longest first. */
function ingressService(paths: IngressPath[], path: string): string | undefined {
  return [...paths].sort((a, b) => b.path.length - a.path.length).find((entry) => new RegExp(`^${entry.path}`, 'i').test(path))?.service;
}

function ingressProblems(list: Manifest[], table: Map<string, Owner>): string[] {
  const problems: string[] = [];
  const paths = ingressPaths(list);
  const services = byKind('Service', list);
  for (const ingress of byKind('Ingress', list)) {
    if (objectAt(ingress, 'metadata', 'annotations')['nginx.ingress.kubernetes.io/use-regex'] !== 'true') problems.push(`Ingress ${nameOf(ingress)}: its paths are regular expressions; it needs nginx.ingress.kubernetes.io/use-regex: "true"`);
  }
  const roleOfService = (name: string) => {
    const service = services.find((candidate) => nameOf(candidate) === name);
    const workload = service && workloads(list).find((candidate) => selects(objectAt(service, 'spec', 'selector'), podLabels(candidate)));
    return workload && kubernetesRole(workload);
  };
  for (const entry of paths) {
    const service = services.find((candidate) => nameOf(candidate) === entry.service);
    if (!service) problems.push(`Ingress path ${entry.path}: no Service ${entry.service}`);
    else if (!listAt(service, 'spec', 'ports').some((port) => textAt(port, 'name') === entry.port || textAt(port, 'port') === entry.port)) problems.push(`Ingress path ${entry.path}: Service ${entry.service} has no port ${entry.port ?? '?'}`);
  }
  for (const [route, owner] of table) {
    const path = samplePath(route.slice(route.indexOf(' ') + 1));
    const service = ingressService(paths, path);
    const role = service === undefined ? undefined : roleOfService(service);
    // The development mailbox must not reach approvals; the console answers it with 404 in production.
    const expected = owner === 'none' ? 'console' : owner;
    if (role !== expected) problems.push(`Ingress sends ${route} (as ${path}) to ${service ?? 'nowhere'} (${role ?? 'no service'}), not ${expected}`);
  }
  return problems;
}

// ---------- the tests ----------

const readme = readFileSync(join(deployDir, 'README.md'), 'utf8');
const table = routeTable(readme);
const nginx = parseNginx(readFileSync(join(deployDir, 'nginx', 'nginx.conf'), 'utf8'));
const SERVICE_ROLES = ['ingest', 'workflow', 'maintenance', 'resources', 'approvals', 'projections', 'console'];

describe('deploy/ files', () => {
  it('parse as YAML, every one of them', () => {
    expect(yamlFiles.map((path) => relative(deployDir, path))).toEqual(expect.arrayContaining(['compose.yaml', 'kubernetes/kustomization.yaml', 'kubernetes/nats-values.yaml']));
    for (const path of yamlFiles) expect(() => readYaml(path), relative(repoDir, path)).not.toThrow();
  });

  it('refuse a YAML file with a duplicated key', () => {
    expect(() => parseAllDocuments('a: 1\na: 2\n', { uniqueKeys: true }).forEach((document) => {
      if (document.errors.length > 0) throw document.errors[0];
    })).toThrow(/unique/i);
  });
});

describe('compose.yaml', () => {
  it('is valid against the Compose Specification schema', () => {
    expect(composeSchemaProblems(compose)).toEqual([]);
  });

  it('a copy with a misspelled key or a wrongly typed value is refused by that schema', () => {
    const misspelled = clone(compose);
    const workflow = objectAt(misspelled, 'services', 'workflow');
    workflow.helthcheck = workflow.healthcheck;
    delete workflow.healthcheck;
    expect(composeSchemaProblems(misspelled).join('\n')).toMatch(/services\/workflow.*helthcheck/);
    const wrongType = clone(compose);
    objectAt(wrongType, 'services', 'workflow', 'deploy').replicas = ['two'];
    expect(composeSchemaProblems(wrongType)).not.toEqual([]);
  });

  it('gives every long-running service a health check; the services check GET /health', () => {
    const oneShot = new Set(Object.values(composeServices).flatMap((service) => Object.entries(objectAt(service, 'depends_on')).filter(([, dependency]) => textAt(dependency, 'condition') === 'service_completed_successfully').map(([name]) => name)));
    for (const [name, service] of Object.entries(composeServices)) {
      if (oneShot.has(name)) continue;
      expect(listAt(service, 'healthcheck', 'test').length, `${name} has no health check`).toBeGreaterThan(0);
      if (composeRole(service)) expect(listAt(service, 'healthcheck', 'test').join(' '), name).toContain('/health');
    }
  });

  it('runs two copies of every service from entry points that exist', () => {
    const copies = new Map<string, number>();
    for (const service of Object.values(composeServices)) {
      const role = composeRole(service);
      if (role === undefined) continue;
      const replicas = objectAt(service, 'deploy').replicas;
      copies.set(role, (copies.get(role) ?? 0) + (typeof replicas === 'number' ? replicas : 1));
      const entry = listAt(service, 'command').find((part) => typeof part === 'string' && part.endsWith('dist/main.js')) as string;
      expect(statSync(join(repoDir, entry.replace('/dist/main.js', '/src/main.ts'))).isFile(), entry).toBe(true);
    }
    expect(Object.fromEntries(copies)).toEqual(Object.fromEntries(SERVICE_ROLES.map((role) => [role, 2])));
  });

  it('configures every copy for production on the cluster (CONTRACT §6), secrets only by reference', () => {
    const natsNodes = Object.entries(composeServices).filter(([, service]) => textAt(service, 'image')?.startsWith('nats:')).map(([name]) => name);
    expect(natsNodes).toHaveLength(3);
    for (const [name, service] of Object.entries(composeServices).filter(([, candidate]) => composeRole(candidate))) {
      const env = objectAt(service, 'environment');
      expect(env.MES_ENV, name).toBe('production');
      expect(env.NATS_REPLICAS, name).toBe('3');
      expect(String(env.NATS_URL).split(','), name).toEqual(natsNodes.map((node) => `nats://${node}:4222`));
      expect(String(env.SQL_URL), name).toMatch(/^mssql:\/\//);
      expect(String(env.EVENTSTORE_URL), name).toMatch(/^esdb:\/\//);
      expect(String(env.SMTP_URL), name).toMatch(/^smtp:\/\//);
      expect(String(env.PUBLIC_URL), name).toMatch(/^\$\{PUBLIC_URL/);
      for (const secret of ['API_TOKEN', 'APPROVAL_SECRET']) expect(String(env[secret]), `${name} ${secret}`).toMatch(new RegExp(`^\\$\\{${secret}:\\?`));
    }
  });

  it('gives each copy that runs ingest its own fixed MQTT client id', () => {
    const ids = Object.entries(composeServices)
      .filter(([, service]) => composeRole(service) === 'ingest' || composeRole(service) === 'console')
      .map(([name, service]) => {
        expect(objectAt(service, 'deploy').replicas ?? 1, `${name} must be one fixed copy`).toBe(1);
        return textAt(service, 'environment', 'MQTT_CLIENT_ID');
      });
    expect(ids.every((id) => id !== undefined)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('forms one NATS cluster: each node named, with its own store, routing to all three', () => {
    const natsNodes = Object.entries(composeServices).filter(([, service]) => textAt(service, 'image')?.startsWith('nats:'));
    expect(new Set(natsNodes.map(([, service]) => textAt(service, 'environment', 'SERVER_NAME'))).size).toBe(3);
    expect(new Set(natsNodes.map(([, service]) => listAt(service, 'volumes').find((volume) => String(volume).endsWith(':/data')))).size).toBe(3);
    const conf = readFileSync(join(deployDir, 'nats', 'nats.conf'), 'utf8');
    expect(conf).toMatch(/server_name:\s*\$SERVER_NAME/);
    expect(conf).toMatch(/jetstream\s*\{[^}]*store_dir/);
    for (const [name] of natsNodes) expect(conf).toContain(`nats-route://${name}:6222`);
  });
});

describe('Kubernetes manifests', () => {
  it('are each valid against Kubernetes’ schema for their apiVersion and kind', () => {
    expect(manifests.length).toBeGreaterThan(20);
    const problems = manifests.flatMap(kubernetesSchemaProblems);
    expect(problems).toEqual([]);
  });

  it('a copy with a wrongly typed field or an unknown kind is refused', () => {
    const deployment = manifests.find((manifest) => manifest.object.kind === 'Deployment')!;
    const wrongType = clone(deployment);
    objectAt(wrongType.object, 'spec').replicas = 'two';
    expect(kubernetesSchemaProblems(wrongType).join('\n')).toMatch(/replicas must be integer/);
    const badPort = clone(deployment);
    const container = objectAt(listAt(badPort.object, 'spec', 'template', 'spec', 'containers')[0]);
    container.ports = [{ containerPort: 'http' }];
    expect(kubernetesSchemaProblems(badPort).join('\n')).toMatch(/containerPort must be integer/);
    const unknownKind = clone(deployment);
    unknownKind.object.kind = 'Deploymnet';
    expect(kubernetesSchemaProblems(unknownKind)).toEqual([`${deployment.file} Deploymnet ${nameOf(deployment.object)}: no Kubernetes schema for apps/v1 Deploymnet`]);
  });

  it('name no field that Kubernetes does not know', () => {
    expect(unknownFieldProblems(manifests)).toEqual([]);
  });

  it('a copy with a misspelled field is refused', () => {
    const deployment = clone(manifests.find((manifest) => manifest.object.kind === 'Deployment')!);
    const container = objectAt(listAt(deployment.object, 'spec', 'template', 'spec', 'containers')[0]);
    container.livenesProbe = container.livenessProbe;
    delete container.livenessProbe;
    expect(unknownFieldProblems([deployment]).join('\n')).toMatch(/Deployment \S+: .*'"livenesProbe"' does not exist in type 'IContainer'/);
  });

  it('run every service with two copies, /health probes and a budget that selects them; Services select workloads', () => {
    expect(workloadProblems(manifests)).toEqual([]);
    expect(workloads().filter(isServiceWorkload).map(kubernetesRole).sort()).toEqual([...SERVICE_ROLES].sort());
  });

  it('a copy missing a probe, a copy, or its budget is refused by those checks', () => {
    const broken = clone(manifests);
    const workflow = broken.find((manifest) => manifest.object.kind === 'Deployment' && nameOf(manifest.object) === 'workflow')!;
    objectAt(workflow.object, 'spec').replicas = 1;
    delete objectAt(listAt(workflow.object, 'spec', 'template', 'spec', 'containers')[0]).livenessProbe;
    const budget = broken.find((manifest) => manifest.object.kind === 'PodDisruptionBudget' && nameOf(manifest.object) === 'maintenance')!;
    objectAt(budget.object, 'spec', 'selector', 'matchLabels')['app.kubernetes.io/component'] = 'maintenace';
    expect(workloadProblems(broken).sort()).toEqual([
      'Deployment maintenance: no PodDisruptionBudget selects its pods',
      'Deployment workflow: container workflow has no livenessProbe on GET /health',
      'Deployment workflow: replicas must be at least 2 (got 1)',
      'PodDisruptionBudget maintenance selects no Deployment or StatefulSet',
    ]);
  });

  it('give each copy that runs ingest a stable MQTT client id from its StatefulSet pod name', () => {
    for (const workload of workloads().filter((candidate) => ['ingest', 'console'].includes(kubernetesRole(candidate) ?? ''))) {
      expect(workload.kind, nameOf(workload)).toBe('StatefulSet');
      const env = listAt(containersOf(workload)[0], 'env');
      expect(env.find((entry) => textAt(entry, 'name') === 'POD_NAME'), nameOf(workload)).toMatchObject({ valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } });
      expect(env.find((entry) => textAt(entry, 'name') === 'MQTT_CLIENT_ID'), nameOf(workload)).toMatchObject({ value: 'mes-$(POD_NAME)' });
    }
  });

  it('read their settings from ConfigMaps and Secrets that exist, with the keys they name', () => {
    const configMaps = byKind('ConfigMap');
    const secrets = byKind('Secret');
    const env = objectAt(configMaps.find((configMap) => nameOf(configMap) === 'mes-env'), 'data');
    expect(env).toMatchObject({ MES_ENV: 'production', NATS_REPLICAS: '3', TRUST_PROXY: '1', MES_CONFIG: '/etc/mes/plants.yaml' });
    for (const workload of [...workloads(), ...byKind('Job')]) {
      for (const container of containersOf(workload)) {
        for (const source of listAt(container, 'envFrom')) {
          const name = textAt(source, 'configMapRef', 'name');
          expect(configMaps.some((configMap) => nameOf(configMap) === name), `${nameOf(workload)}: ConfigMap ${name ?? '?'}`).toBe(true);
        }
        for (const entry of listAt(container, 'env')) {
          const ref = objectAt(entry, 'valueFrom', 'secretKeyRef');
          if (Object.keys(ref).length === 0) continue;
          const secret = secrets.find((candidate) => nameOf(candidate) === ref.name);
          expect(Object.keys(objectAt(secret, 'stringData')), `${nameOf(workload)}: Secret ${String(ref.name)}`).toContain(ref.key);
        }
      }
    }
    // Placeholders only: every secret value says so, and none would pass the services' length rules.
    for (const secret of secrets) for (const value of Object.values(objectAt(secret, 'stringData'))) expect(String(value)).toContain('REPLACE-ME');
  });

  it('ship a plant configuration that the services accept (CONTRACT §3)', () => {
    const plants = textAt(byKind('ConfigMap').find((configMap) => nameOf(configMap) === 'mes-plants'), 'data', 'plants.yaml');
    expect(Object.keys(parsePlantConfigText(plants ?? '', 'kubernetes/config.yaml mes-plants').plants ?? {})).not.toEqual([]);
  });

  it('carry the same Mosquitto configuration and SQL Server setup as compose', () => {
    const data = (name: string) => objectAt(byKind('ConfigMap').find((configMap) => nameOf(configMap) === name), 'data');
    expect(data('mosquitto-config')['mosquitto.conf']).toBe(readFileSync(join(deployDir, 'mosquitto', 'mosquitto.conf'), 'utf8'));
    expect(data('sqlserver-init')['init.sql']).toBe(readFileSync(join(deployDir, 'sqlserver', 'init.sql'), 'utf8'));
  });

  it('list every manifest in kustomization.yaml except the example Secret', () => {
    const expected = filesUnder(kubernetesDir, (path) => path.endsWith('.yaml') && !NOT_MANIFESTS.has(relative(kubernetesDir, path)) && !path.endsWith('.example.yaml')).map((path) => relative(kubernetesDir, path));
    expect([...listAt(kustomization, 'resources')].sort()).toEqual(expected.sort());
  });

  it('connect to the three-node JetStream cluster of the NATS chart values', () => {
    expect(objectAt(natsValues, 'config', 'cluster')).toMatchObject({ enabled: true, replicas: 3 });
    expect(objectAt(natsValues, 'config', 'jetstream')).toMatchObject({ enabled: true, fileStore: { enabled: true, pvc: { enabled: true } } });
    const natsUrl = textAt(byKind('ConfigMap').find((configMap) => nameOf(configMap) === 'mes-env'), 'data', 'NATS_URL');
    expect(natsUrl?.split(',')).toEqual([0, 1, 2].map((index) => `nats://nats-${index}.nats-headless:4222`));
  });
});

describe('one HTTP address in front of every copy', () => {
  const registered = registeredRoutes();

  it('the route table in deploy/README.md names every route the code registers, and its service', () => {
    expect(registered.size).toBeGreaterThanOrEqual(10);
    expect(routeTableProblems(registered, table)).toEqual([]);
  });

  it('a route added to the code but not to the table, or given to the wrong service, is caught', () => {
    const added = new Map(registered).set('POST /api/orders/:orderId/reopen', 'maintenance');
    expect(routeTableProblems(added, table)).toEqual(['POST /api/orders/:orderId/reopen (registered by maintenance) is missing from the route table in deploy/README.md']);
    const wrongOwner = new Map(table).set('GET /api/dead-letters', 'projections');
    expect(routeTableProblems(registered, wrongOwner)).toEqual(['GET /api/dead-letters is registered by ingest but the route table says projections']);
  });

  it('compose: nginx sends every route to the copies of the service that serves it', () => {
    expect(proxyProblems(nginx, table, composeServices)).toEqual([]);
  });

  it('compose: a proxy without the maintenance route, or an upstream naming the wrong copies, is caught', () => {
    const withoutMaintenance: NginxConfig = { ...nginx, locations: nginx.locations.filter((location) => location.target !== 'maintenance') };
    expect(proxyProblems(withoutMaintenance, table, composeServices)).toEqual([
      'nginx sends POST /api/orders/:orderId/complete (as /api/orders/MO_1/complete) to console, not maintenance',
      'nginx sends POST /api/orders/:orderId/cancel (as /api/orders/MO_1/cancel) to console, not maintenance',
    ]);
    const swapped: NginxConfig = { ...nginx, upstreams: new Map(nginx.upstreams).set('approvals', ['projections']) };
    expect(proxyProblems(swapped, table, composeServices)).toEqual(['nginx upstream approvals: projections runs projections']);
  });

  it('Kubernetes: the Ingress sends every route to the Service of the service that serves it', () => {
    expect(ingressProblems(manifests, table)).toEqual([]);
  });

  it('Kubernetes: an Ingress path to the wrong Service is caught', () => {
    const broken = clone(manifests);
    const ingress = broken.find((manifest) => manifest.object.kind === 'Ingress')!;
    for (const rule of listAt(ingress.object, 'spec', 'rules')) {
      for (const entry of listAt(rule, 'http', 'paths')) if (textAt(entry, 'path') === '/api/dead-letters') objectAt(entry, 'backend', 'service').name = 'projections';
    }
    expect(ingressProblems(broken, table)).toEqual(['Ingress sends GET /api/dead-letters (as /api/dead-letters) to projections (projections), not ingest']);
  });
});
