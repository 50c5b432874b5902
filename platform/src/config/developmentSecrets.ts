// API_TOKEN and APPROVAL_SECRET for development: when unset, generated once and kept under
// DATA_DIR (mode 0600) so approval links and scripts keep working across restarts.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface ResolvedSecrets {
  apiToken: string;
  approvalSecret: string;
  /** Which ones were generated (or read back from DATA_DIR) rather than given in the environment. */
  generated: ('API_TOKEN' | 'APPROVAL_SECRET')[];
  file: string;
}

/**
 * Creates DATA_DIR readable by this user only (0700), or narrows an existing one to that: it holds
 * development secrets, the development mailbox (approval links) and the embedded stores.
 * Returns true when it had to narrow an existing folder.
 */
export function ensurePrivateDataDir(dataDir: string): boolean {
  const path = resolve(dataDir);
  if (!existsSync(path)) {
    mkdirSync(path, { recursive: true, mode: 0o700 });
    chmodSync(path, 0o700);
    return false;
  }
  if ((statSync(path).mode & 0o077) === 0) return false;
  chmodSync(path, 0o700);
  return true;
}

export function resolveSecrets(config: { apiToken: string | undefined; approvalSecret: string | undefined; dataDir: string }): ResolvedSecrets {
  const file = resolve(join(config.dataDir, 'development-secrets.json'));
  const generated: ResolvedSecrets['generated'] = [];
  if (config.apiToken === undefined) generated.push('API_TOKEN');
  if (config.approvalSecret === undefined) generated.push('APPROVAL_SECRET');
  if (generated.length === 0) return { apiToken: config.apiToken!, approvalSecret: config.approvalSecret!, generated, file };

  let stored: { apiToken?: string; approvalSecret?: string } = {};
  if (existsSync(file)) {
    try {
      stored = JSON.parse(readFileSync(file, 'utf8')) as typeof stored;
    } catch (err) {
      throw new Error(`${file} (development secrets under DATA_DIR) is not valid JSON: ${(err as Error).message}; delete it to generate new ones`);
    }
  }
  const secrets = {
    apiToken: stored.apiToken ?? randomBytes(24).toString('base64url'),
    approvalSecret: stored.approvalSecret ?? randomBytes(32).toString('base64url'),
  };
  if (stored.apiToken !== secrets.apiToken || stored.approvalSecret !== secrets.approvalSecret) {
    mkdirSync(resolve(config.dataDir), { recursive: true, mode: 0o700 });
    writeFileSync(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  return {
    apiToken: config.apiToken ?? secrets.apiToken,
    approvalSecret: config.approvalSecret ?? secrets.approvalSecret,
    generated,
    file,
  };
}
