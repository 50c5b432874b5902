// Pages of the development mailbox: the list of messages and one message, its HTML shown in a
// sandboxed frame (no scripts, no navigation) and its links listed so they can be followed.
import type { MailboxMessage } from '../mail/developmentMailbox.js';
import { escapeHtml, htmlDocument } from '../html/htmlDocument.js';

/**
 * The message page frames the HTML part with srcdoc, which inherits this policy: inline styles, no
 * remote content. The frame is sandboxed (no scripts, no forms) but may open its links in a new tab
 * outside the sandbox: the approval page forbids being framed, so a link followed inside the frame
 * would show a broken frame.
 */
export const MAILBOX_MESSAGE_CONTENT_SECURITY_POLICY =
  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'";

/** http(s) URLs in a text part, in order, each once. */
export function linksIn(text: string): string[] {
  const found = text.match(/https?:\/\/[^\s<>"'()]+/g) ?? [];
  return [...new Set(found)];
}

export function mailboxListPage(messages: readonly MailboxMessage[]): string {
  const rows = messages
    .map(
      (m) =>
        `<tr><td>${escapeHtml(m.receivedAt)}</td><td>${escapeHtml(m.to)}</td><td><a href="mailbox/${escapeHtml(encodeURIComponent(m.id))}">${escapeHtml(m.subject || '(no subject)')}</a></td></tr>`,
    )
    .join('\n');
  return htmlDocument(
    'Development mailbox',
    `<h1>Development mailbox</h1>
<p class="muted">Every email the system sent while SMTP_URL is unset, newest first (also as .eml files under DATA_DIR/mailbox). <a href="mailbox.json">JSON</a></p>
${messages.length === 0 ? '<p>No messages yet.</p>' : `<table>\n<thead><tr><th>Received</th><th>To</th><th>Subject</th></tr></thead>\n<tbody>\n${rows}\n</tbody>\n</table>`}`,
  );
}

export function mailboxMessagePage(message: MailboxMessage): string {
  const links = linksIn(message.text ?? '');
  const body = message.html !== null
    ? `<iframe sandbox="allow-popups allow-popups-to-escape-sandbox" title="HTML part" srcdoc="${escapeHtml(`<base target="_blank">${message.html}`)}"></iframe>`
    : `<pre>${escapeHtml(message.text ?? '')}</pre>`;
  return htmlDocument(
    message.subject || 'Message',
    `<p><a href="../mailbox">&larr; Development mailbox</a></p>
<h1>${escapeHtml(message.subject || '(no subject)')}</h1>
<dl>
<dt>Received</dt><dd>${escapeHtml(message.receivedAt)}</dd>
<dt>From</dt><dd>${escapeHtml(message.from)}</dd>
<dt>To</dt><dd>${escapeHtml(message.to)}</dd>
${message.messageId === null ? '' : `<dt>Message-ID</dt><dd>${escapeHtml(message.messageId)}</dd>`}
</dl>
${links.length === 0 ? '' : `<h2>Links</h2>\n<ul class="links">\n${links.map((url) => `<li><a href="${escapeHtml(url)}" target="_blank" rel="noopener noreferrer">${escapeHtml(url)}</a></li>`).join('\n')}\n</ul>`}
<h2>Message</h2>
${body}
${message.html !== null && message.text !== null ? `<h2>Plain-text part</h2>\n<pre>${escapeHtml(message.text)}</pre>` : ''}`,
  );
}

export function mailboxMessageNotFoundPage(id: string): string {
  return htmlDocument('Message not found', `<p><a href="../mailbox">&larr; Development mailbox</a></p>\n<h1>Message not found</h1>\n<p>The development mailbox has no message ${escapeHtml(id)}.</p>`);
}
