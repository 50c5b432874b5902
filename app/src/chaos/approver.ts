// The approvers of the chaos runs: each approval email's link is followed as a person would (open
// the page, submit the form), approving most orders and rejecting every tenth. A link names the
// approvals copy that sent it; when that copy is down the same path is tried on the others, as a
// load balancer in front of them would (every copy accepts every signed link).
//
// Each request of a decision comes from a loopback address of its own (127.0.0.0/8), as decisions
// of many approvers come from many machines: the approvals service still throttles valid links per
// client address (30 a minute, CONTRACT §4 says it must not; issue 8), which from one address would
// stretch a run of a thousand decisions over half an hour. A 429 is still honoured and counted.
import { approvalEmail, type ServiceCopy, type SmtpCapture } from '@mes/platform/testing';
import { request as httpRequest } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ApproverStats {
  /** Emails taken up (each is decided, found decided, or abandoned). */
  emails: number;
  /** Forms submitted that recorded a decision (200). */
  recorded: number;
  /** Forms answered "already decided" (409) or "no longer needed" (410): a resend of a decided request. */
  alreadyDecided: number;
  /** Requests that found the link's copy down and went to another copy. */
  failedOver: number;
  /**
   * Requests answered 429 and sent again after Retry-After. CONTRACT §4 says valid links are never
   * throttled by client address; the approvals service still does (issue 8), so the figure shows it.
   */
  throttled: number;
  /** Emails given up on after repeated errors, with the last one. */
  abandoned: { orderId: string; error: string }[];
}

export interface Approver {
  readonly stats: ApproverStats;
  /** Resolves once every email received so far has been handled. */
  drain(): Promise<void>;
  stop(): Promise<void>;
}

/** Rejects one order in ten (by its id), approves the others. */
export function decisionFor(orderId: string): 'approve' | 'reject' {
  let hash = 0;
  for (const char of orderId) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return hash % 10 === 0 ? 'reject' : 'approve';
}

export function startApprover(smtp: SmtpCapture, approvalsCopies: () => ServiceCopy[]): Approver {
  const stats: ApproverStats = { emails: 0, recorded: 0, alreadyDecided: 0, failedOver: 0, throttled: 0, abandoned: [] };
  let handled = 0;
  let stopped = false;
  const inFlight = new Set<Promise<void>>();

  let nextAddress = 0;
  /** `link` on its own copy, then on every other running approvals copy; retried while none answers. */
  const request = async (link: string, init: LinkRequest): Promise<LinkResponse> => {
    const localAddress = clientAddress(nextAddress++);
    const url = new URL(link);
    let lastError: unknown;
    for (let attempt = 0; attempt < 120; attempt++) {
      const bases = [url.origin, ...approvalsCopies().filter((c) => c.running()).map((c) => c.httpUrl).filter((base) => base !== url.origin)];
      for (const [i, base] of bases.entries()) {
        try {
          const response = await send(new URL(url.pathname + url.search, base), init, localAddress);
          // 5xx: the copy is up but a dependency is not (NATS electing a leader); try again.
          if (response.status >= 500) {
            lastError = new Error(`${response.status} from ${base}`);
            continue;
          }
          if (response.status === 429) {
            stats.throttled++;
            lastError = new Error(`429 from ${base}`);
            await sleep(Math.max(1, Number(response.retryAfter) || 1) * 1_000);
            break;
          }
          if (i > 0) stats.failedOver++;
          return response;
        } catch (err) {
          lastError = err;
        }
      }
      await sleep(500);
    }
    throw lastError instanceof Error ? lastError : new Error(String(lastError));
  };

  const decide = async (mail: SmtpCapture['messages'][number]) => {
    let orderId = mail.subject ?? '(no subject)';
    try {
      const email = approvalEmail(mail);
      orderId = email.orderId;
      const link = decisionFor(email.orderId) === 'approve' ? email.approveUrl : email.rejectUrl;
      // Opening the link shows the confirmation form and changes nothing; submitting it decides.
      await request(link, { method: 'GET' });
      const token = new URL(link).searchParams.get('token') ?? '';
      const action = new URL(link);
      action.search = '';
      const response = await request(action.toString(), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'chaos-approver/1.0' },
        body: new URLSearchParams({ token, comment: 'chaos run' }).toString(),
      });
      if (response.status === 200) stats.recorded++;
      else if (response.status === 409 || response.status === 410) stats.alreadyDecided++;
      else stats.abandoned.push({ orderId, error: `form answered ${response.status}` });
    } catch (err) {
      stats.abandoned.push({ orderId, error: (err as Error).message });
    }
  };

  const take = () => {
    const mail = smtp.messages[handled++]!;
    stats.emails++;
    const task: Promise<void> = decide(mail).finally(() => inFlight.delete(task));
    inFlight.add(task);
  };
  const loop = (async () => {
    while (!stopped) {
      while (handled < smtp.messages.length) take();
      await sleep(100);
    }
  })();

  return {
    stats,
    async drain() {
      while (handled < smtp.messages.length || inFlight.size > 0) {
        await Promise.all(inFlight);
        await sleep(150);
      }
    },
    /** Stops watching for emails (one that arrives later is not followed: the run's checks say so). */
    async stop() {
      stopped = true;
      await loop;
      await Promise.all(inFlight);
    },
  };
}

interface LinkRequest {
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
}

interface LinkResponse {
  status: number;
  retryAfter: string | undefined;
}

/** 127.0.0.2 to 127.0.250.254: loopback addresses Linux answers without configuration. */
function clientAddress(n: number): string {
  const host = (n % 62_000) + 2;
  return `127.0.${Math.floor(host / 253)}.${(host % 253) + 2}`;
}

/** One request from `localAddress` (fetch cannot choose its source address); the body is read and dropped. */
function send(url: URL, init: LinkRequest, localAddress: string): Promise<LinkResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: init.method, headers: init.headers, localAddress, timeout: 10_000 }, (res) => {
      res.resume();
      res.once('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] }));
      res.once('error', reject);
    });
    req.once('timeout', () => req.destroy(new Error(`no answer from ${url.origin} within 10 s`)));
    req.once('error', reject);
    req.end(init.body);
  });
}
