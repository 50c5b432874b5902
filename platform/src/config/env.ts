// The process configuration of CONTRACT §6, read from the environment once at start-up.
// A bad value stops start-up with the variable's name and the reason.
import { IDENTIFIER_PATTERN, parseIsoDuration } from '@mes/contracts';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/** The plant configuration shipped with the project, used when MES_CONFIG is unset. */
export const EXAMPLE_PLANT_CONFIG_PATH = fileURLToPath(new URL('../../config/plants.example.yaml', import.meta.url));

/** Hides `user:password@` so a bad URL can be echoed in an error without leaking a secret. */
export function withoutCredentials(url: string): string {
  return url.replace(/\/\/[^/@\s]*@/, '//***@');
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
      error: (issue) => `must be one or more comma-separated nats:// URLs, e.g. nats://127.0.0.1:4222 (got "${String(issue.input)}")`,
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
  TRUST_PROXY: z.enum(['true', 'false'], { error: 'must be true or false' }).default('false').transform((value) => value === 'true'),
  API_TOKEN: z.string().min(16, { error: 'must be at least 16 characters; use a long random value' }).optional(),
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
  /** Behind a reverse proxy: take the client address from X-Forwarded-For (not in CONTRACT §6). */
  trustProxy: boolean;
  /** Unset: generated in development (kept under DATA_DIR). */
  apiToken: string | undefined;
  approvalSecret: string | undefined;
  plantConfigPath: string;
  dataDir: string;
  /** Unset: every plant in the plant configuration. */
  plants: string[] | undefined;
  dedupeWindowMs: number;
  /** Replicas of every JetStream stream and KV bucket (CONTRACT §6): 3 on a three-node cluster. */
  natsReplicas: number;
  logLevel: Env['LOG_LEVEL'];
}

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
    apiToken: e.API_TOKEN,
    approvalSecret: e.APPROVAL_SECRET,
    plantConfigPath: e.MES_CONFIG,
    dataDir: e.DATA_DIR,
    plants: e.PLANTS,
    dedupeWindowMs: e.DEDUPE_WINDOW,
    natsReplicas: e.NATS_REPLICAS,
    logLevel: e.LOG_LEVEL,
  };
}
