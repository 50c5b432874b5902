// pino, with the places a secret could appear redacted, so tokens never reach the logs.
import { pino, type Logger, type LevelWithSilent } from 'pino';

export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  '*.token',
  '*.apiToken',
  '*.approvalSecret',
  '*.password',
  '*.secret',
  'config.apiToken',
  'config.approvalSecret',
];

export function createLogger(options: { service: string; level?: LevelWithSilent; destination?: pino.DestinationStream }): Logger {
  return pino(
    {
      name: options.service,
      level: options.level ?? 'info',
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination,
  );
}

export type { Logger };
