// `mes approvers enrol <email>`: asks a running approvals service (over NATS) to email the approver a
// one-time link where they set the PIN that, with the approval link, signs their decisions in
// plants with `signature: link+pin` (CONTRACT §3, §4). The CLI never sees the link or the PIN.
import { ApproverEnrolmentError, MAX_WRONG_PINS, PIN_RULES, requestApproverEnrolment, SIGNING_LOCK_MS } from '@mes/approvals';
import type { NatsConnection } from '@nats-io/transport-node';

export const APPROVERS_USAGE = `  mes approvers enrol <email>             email an approver a one-time link to set the PIN that signs
                                          their decisions in plants with signature: link+pin`;

export type ApproversCommand = { kind: 'approversEnrol'; email: string };

export function parseApproversArgs(argv: readonly string[]): ApproversCommand | { kind: 'usage'; error: string } {
  const [action, email, ...rest] = argv;
  const option = argv.find((arg) => arg.startsWith('-'));
  if (option !== undefined) return { kind: 'usage', error: `unknown option ${option} for mes approvers` };
  if (action !== 'enrol') return { kind: 'usage', error: `mes approvers takes enrol${action === undefined ? '' : ` (got "${action}")`}` };
  if (email === undefined) return { kind: 'usage', error: 'mes approvers enrol needs the approver\'s email' };
  if (rest.length > 0) return { kind: 'usage', error: `unexpected argument "${rest[0]}"` };
  return { kind: 'approversEnrol', email };
}

/** Lines for the person at the terminal; throws an Error with the message to print when nothing was sent. */
export async function enrolApprover(nc: NatsConnection, command: ApproversCommand): Promise<string[]> {
  let sent;
  try {
    sent = await requestApproverEnrolment(nc, command.email);
  } catch (err) {
    if (err instanceof ApproverEnrolmentError) throw new Error(err.message);
    throw err;
  }
  const expires = `${sent.expiresAt.slice(0, 19).replace('T', ' ')} UTC`;
  const signing =
    sent.signingPlants.length === 0
      ? `no plant of theirs signs with link+pin yet (approver in ${sent.plants.join(', ')})`
      : `signs with link and PIN in ${sent.signingPlants.join(', ')} (approver in ${sent.plants.join(', ')})`;
  return [
    `enrolment link sent to ${sent.approver.name} <${sent.approver.email}>: ${signing}`,
    `the link works once, until ${expires}; a new one replaces it`,
    `PIN: ${PIN_RULES}; ${MAX_WRONG_PINS} wrong PINs in a row lock signing for ${SIGNING_LOCK_MS / 60_000} minutes`,
  ];
}
