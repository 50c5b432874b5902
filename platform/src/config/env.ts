// The process configuration of CONTRACT §6, read from the environment once at start-up.
// A bad value stops start-up with the variable's name and the reason.
import { IDENTIFIER_PATTERN, parseIsoDuration } from '@mes/contracts';
import { isIP } from 'node:net';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { ApiCredential } from '../http/apiCredentials.js';
import type { TrustProxy } from '../http/httpServer.js';

/** The plant configuration shipped with the project, used when MES_CONFIG is unset. */
export const EXAMPLE_PLANT_CONFIG_PATH = fileURLToPath(new URL('../../config/plants.example.yaml', import.meta.url));

/** Hides `user:password@` so a bad URL can be echoed in an error without leaking a secret. */
export function withoutCredentials(url: string): string {
  // Global, and stopping at commas: NATS_URL lists several servers, each may carry credentials.
  return url.replace(/\/\/[^/@\s,]*@/g, '//***@');
}

function urlWithScheme(schemes: string[], example: string) {
  return z.string().trim().refine(
    (value) => {
      try {
        return schemes.includes(new URL(value).protocol.replace(/:$/, ''));
      } catch {
        return false;
      }
    },
    { error: (issue) => `must be a URL starting with ${schemes.map((s) => `${s}://`).join(' or ')}, e.g. ${example} (got "${withoutCredentials(String(issue.input))}")` },
  );
}

/**
 * TRUST_PROXY: `false`, a number of proxy hops, or proxy addresses / CIDRs. `true` is refused: it
 * would take the left-most X-Forwarded-For entry, which the client itself writes.
 */
export function parseTrustProxy(value: string): TrustProxy | string {
  if (value === 'false' || value === '0') return false;
  if (value === 'true') {
    return 'true would trust X-Forwarded-For entries the client wrote itself; give the number of proxies in front of the service (e.g. 1) or their addresses (e.g. 10.0.0.5,10.1.0.0/16)';
  }
  if (/^\d{1,2}$/.test(value)) return Number(value);
  const entries = value.split(',').map((entry) => entry.trim());
  const bad = entries.filter((entry) => {
    const [address, prefix, ...rest] = entry.split('/');
    if (rest.length > 0 || address === undefined) return true;
    const family = isIP(address);
    if (family === 0) return true;
    if (prefix === undefined) return false;
    return !/^\d{1,3}$/.test(prefix) || Number(prefix) > (family === 4 ? 32 : 128);
  });
  if (bad.length > 0) {
    return `must be false, a number of proxy hops, or comma-separated proxy addresses / CIDRs; not an address: ${bad.map((entry) => `"${entry}"`).join(', ')}`;
  }
  return entries;
}

/** API_TOKENS: `name:token,name:token`; each token at least 16 characters, names and tokens unique. */
export function parseApiTokens(value: string): ApiCredential[] | string {
  const credentials: ApiCredential[] = [];
  for (const [index, pair] of value.split(',').entries()) {
    const separator = pair.indexOf(':');
    const name = separator < 0 ? '' : pair.slice(0, separator).trim();
    const token = separator < 0 ? '' : pair.slice(separator + 1).trim();
    if (!/^[^\s:,]{1,128}$/.test(name) || token === '') return `entry ${index + 1} must be name:token (a holder name without spaces, then the token)`;
    if (token.length < 16) return `the token of ${name} must be at least 16 characters; use a long random value`;
    if (credentials.some((c) => c.name === name)) return `${name} is named twice`;
    if (credentials.some((c) => c.token === token)) return `${name} has the same token as ${credentials.find((c) => c.token === token)?.name ?? 'another holder'}; give each holder its own`;
    credentials.push({ name, token });
  }
  return credentials;
}

const isoDuration = z.string().trim().transform((value, ctx) => {
  try {
    return parseIsoDuration(value);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

const EnvSchema = z.object({
  NATS_URL: z
    .string()
    .trim()
    .default('nats://127.0.0.1:4222')
    .refine((value) => value.split(',').every((server) => /^(nats|tls|ws|wss):\/\/[^\s]+$/.test(server.trim())), {
      error: (issue) => `must be one or more comma-separated nats:// URLs, e.g. nats://127.0.0.1:4222 (got "${withoutCredentials(String(issue.input))}")`,
    }),
  MQTT_URL: urlWithScheme(['mqtt', 'mqtts', 'ws', 'wss'], 'mqtt://127.0.0.1:1883').default('mqtt://127.0.0.1:1883'),
  EVENTSTORE_URL: urlWithScheme(['esdb', 'esdb+discover'], 'esdb://127.0.0.1:2113?tls=false').optional(),
  SQL_URL: z
    .string()
    .trim()
    .default('sqlite:./data/mes.sqlite')
    .refine((value) => /^sqlite:.+/.test(value) || /^mssql:\/\/[^\s]+$/.test(value), {
      error: (issue) => `must be sqlite:PATH or mssql://user:password@host:1433/database (got "${withoutCredentials(String(issue.input))}")`,
    }),
  SMTP_URL: urlWithScheme(['smtp', 'smtps'], 'smtp://mail.example:587').optional(),
  // Deliberately permissive: local addresses such as mes@localhost are valid senders.
  MAIL_FROM: z.string().trim().regex(/^[^\s@<>]+@[^\s@<>]+$/, { error: (issue) => `must be an email address such as mes@plant1.example (got "${String(issue.input)}")` }).default('mes@localhost'),
  PUBLIC_URL: urlWithScheme(['http', 'https'], 'https://mes.plant1.example').default('http://127.0.0.1:3000').transform((value) => value.replace(/\/+$/, '')),
  HTTP_PORT: z
    .string()
    .trim()
    .default('3000')
    .refine((value) => /^\d{1,5}$/.test(value) && Number(value) <= 65535, {
      error: (issue) => `must be a whole number from 0 to 65535 (got "${String(issue.input)}")`,
    })
    .transform(Number),
  HTTP_HOST: z.string().trim().min(1).default('0.0.0.0'),
  MQTT_CLIENT_ID: z
    .string()
    .trim()
    .regex(/^[\x21-\x7e]{1,128}$/, { error: (issue) => `must be 1 to 128 printable ASCII characters without spaces (got ${JSON.stringify(issue.input)})` })
    .optional(),
  TRUST_PROXY: z.string().trim().default('false').transform((value, ctx): TrustProxy => {
    const parsed = parseTrustProxy(value);
    if (typeof parsed === 'string') {
      ctx.addIssue({ code: 'custom', message: parsed });
      return z.NEVER;
    }
    return parsed;
  }),
  MES_ENV: z.enum(['development', 'production'], { error: (issue) => `must be development or production (got "${String(issue.input)}")` }).default('development'),
  API_TOKEN: z.string().min(16, { error: 'must be at least 16 characters; use a long random value' }).optional(),
  API_TOKENS: z.string().trim().optional().transform((value, ctx): ApiCredential[] => {
    if (value === undefined || value === '') return [];
    const parsed = parseApiTokens(value);
    if (typeof parsed === 'string') {
      ctx.addIssue({ code: 'custom', message: parsed });
      return z.NEVER;
    }
    return parsed;
  }),
  APPROVAL_SECRET: z.string().min(32, { error: 'must be at least 32 characters; use a long random value (e.g. openssl rand -hex 32)' }).optional(),
  MES_CONFIG: z.string().trim().min(1).default(EXAMPLE_PLANT_CONFIG_PATH),
  DATA_DIR: z.string().trim().min(1).default('./data'),
  PLANTS: z
    .string()
    .trim()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value === '' || value === 'all') return undefined;
      const ids = value.split(',').map((id) => id.trim());
      const bad = ids.filter((id) => !IDENTIFIER_PATTERN.test(id));
      if (bad.length > 0) {
        ctx.addIssue({ code: 'custom', message: `must be a comma-separated list of plant ids ([A-Za-z0-9_-]{1,64}); not valid: ${bad.map((id) => `"${id}"`).join(', ')}` });
        return z.NEVER;
      }
      return [...new Set(ids)];
    }),
  DEDUPE_WINDOW: isoDuration.default(2 * 60 * 1000),
  NATS_REPLICAS: z
    .string()
    .trim()
    .default('1')
    // JetStream itself keeps at most 5 replicas of a stream.
    .refine((value) => /^[1-5]$/.test(value), {
      error: (issue) => `must be a whole number from 1 to 5 (JetStream's limit), e.g. 3 on a three-node NATS cluster (got "${String(issue.input)}")`,
    })
    .transform(Number),
  // Tracing (OpenTelemetry's own variable names): on only when an endpoint is set.
  OTEL_EXPORTER_OTLP_ENDPOINT: urlWithScheme(['http', 'https'], 'http://127.0.0.1:4318').optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: urlWithScheme(['http', 'https'], 'http://127.0.0.1:4318/v1/traces').optional(),
  OTEL_SERVICE_NAME: z.string().trim().max(256).optional(),
  OTEL_SDK_DISABLED: z.enum(['true', 'false'], { error: (issue) => `must be true or false (got "${String(issue.input)}")` }).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
    error: (issue) => `must be one of fatal, error, warn, info, debug, trace, silent (got "${String(issue.input)}")`,
  }).default('info'),
});

type Env = z.output<typeof EnvSchema>;

export interface Config {
  natsUrl: string;
  mqttUrl: string;
  /** Ingest's MQTT client id: stable across restarts, unique per copy (not in CONTRACT §6). Unset: `mes-ingest-{hostname}`. */
  mqttClientId: string | undefined;
  /** Unset: the event store is JetStream. */
  eventStoreUrl: string | undefined;
  sqlUrl: string;
  /** Unset: the development mailbox. */
  smtpUrl: string | undefined;
  mailFrom: string;
  publicUrl: string;
  httpPort: number;
  /** Address the HTTP server binds (not in CONTRACT §6; default all interfaces, so approvers can reach the links). */
  httpHost: string;
  /** Proxies in front (hops or addresses) whose X-Forwarded-For entries are believed; false: none. */
  trustProxy: TrustProxy;
  /** `production` requires real secrets and mail, serves no development mailbox, starts no embedded server. */
  mesEnv: 'development' | 'production';
  /** Unset: generated in development (kept under DATA_DIR). */
  apiToken: string | undefined;
  /** More bearer tokens, each naming its holder (API_TOKENS=name:token,...; not in CONTRACT §6). */
  apiTokens: ApiCredential[];
  approvalSecret: string | undefined;
  plantConfigPath: string;
  dataDir: string;
  /** Unset: every plant in the plant configuration. */
  plants: string[] | undefined;
  dedupeWindowMs: number;
  /** Replicas of every JetStream stream and KV bucket (CONTRACT §6): 3 on a three-node cluster. */
  natsReplicas: number;
  logLevel: Env['LOG_LEVEL'];
  tracing: TracingConfig;
}

/** Not in CONTRACT §6; OpenTelemetry's standard variables. */
export interface TracingConfig {
  /**
   * Where spans are sent (OTLP over HTTP): OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as given, else
   * OTEL_EXPORTER_OTLP_ENDPOINT + `/v1/traces`. Unset (or OTEL_SDK_DISABLED=true): tracing is off.
   */
  otlpTracesUrl: string | undefined;
  /** OTEL_SERVICE_NAME; unset: the process's name (`mes` for npm start, else the service's). */
  serviceName: string | undefined;
}

function tracingConfig(e: Env): TracingConfig {
  const otlpTracesUrl = e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? (e.OTEL_EXPORTER_OTLP_ENDPOINT === undefined ? undefined : `${e.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`);
  return { otlpTracesUrl: e.OTEL_SDK_DISABLED === 'true' ? undefined : otlpTracesUrl, serviceName: e.OTEL_SERVICE_NAME };
}

const PRODUCTION_REQUIRED: readonly [string, string][] = [
  ['SMTP_URL', 'otherwise approval emails would go to the development mailbox'],
  ['API_TOKEN', 'otherwise a development token would be generated'],
  ['APPROVAL_SECRET', 'otherwise approval links would be signed with a generated development key'],
  ['PUBLIC_URL', 'the address approvers reach, used in the links of approval emails'],
];

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly issues: { variable: string; message: string }[]) {
    super(`Invalid configuration:\n${issues.map((i) => `  ${i.variable}: ${i.message}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Reads CONTRACT §6 from `env`; an empty variable counts as unset. Throws ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value.trim() !== ''));
  const parsed = EnvSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => ({ variable: String(issue.path[0] ?? '?'), message: issue.message })));
  }
  const e = parsed.data;
  if (e.MES_ENV === 'production') {
    // Each of these has a development fallback that must never serve a plant.
    const missing = PRODUCTION_REQUIRED.filter(([variable]) => present[variable] === undefined);
    if (missing.length > 0) throw new ConfigError(missing.map(([variable, why]) => ({ variable, message: `must be set when MES_ENV=production (${why})` })));
  }
  return {
    natsUrl: e.NATS_URL,
    mqttUrl: e.MQTT_URL,
    mqttClientId: e.MQTT_CLIENT_ID,
    eventStoreUrl: e.EVENTSTORE_URL,
    sqlUrl: e.SQL_URL,
    smtpUrl: e.SMTP_URL,
    mailFrom: e.MAIL_FROM,
    publicUrl: e.PUBLIC_URL,
    httpPort: e.HTTP_PORT,
    httpHost: e.HTTP_HOST,
    trustProxy: e.TRUST_PROXY,
    mesEnv: e.MES_ENV,
    apiToken: e.API_TOKEN,
    apiTokens: e.API_TOKENS,
    approvalSecret: e.APPROVAL_SECRET,
    plantConfigPath: e.MES_CONFIG,
    dataDir: e.DATA_DIR,
    plants: e.PLANTS,
    dedupeWindowMs: e.DEDUPE_WINDOW,
    natsReplicas: e.NATS_REPLICAS,
    logLevel: e.LOG_LEVEL,
    tracing: tracingConfig(e),
  };
}
