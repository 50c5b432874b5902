import { describe, expect, it } from 'vitest';
import type { MailboxMessage } from '../mail/developmentMailbox.js';
import { linksIn, mailboxListPage, mailboxMessagePage } from './developmentMailboxPages.js';

const message: MailboxMessage = {
  id: '20261125T100000123Z-0a1b2c3d',
  receivedAt: '2026-11-25T10:00:00.123Z',
  from: 'mes@localhost',
  to: 'Alice <alice@plant1.example>',
  subject: 'Approval needed: <MO_1>',
  messageId: '<AP_1@mes>',
  text: 'Approve: http://127.0.0.1:3000/approvals/AP_1/approve?token=a.b\nReject: http://127.0.0.1:3000/approvals/AP_1/reject?token=c.d\nagain http://127.0.0.1:3000/approvals/AP_1/approve?token=a.b javascript:alert(1)',
  html: '<p onclick="x">Hi & "bye"</p>',
};

describe('development mailbox pages', () => {
  it('find each http(s) link of a text once, and nothing else', () => {
    expect(linksIn(message.text ?? '')).toEqual(['http://127.0.0.1:3000/approvals/AP_1/approve?token=a.b', 'http://127.0.0.1:3000/approvals/AP_1/reject?token=c.d']);
  });

  it('list messages with time, recipient and subject, escaped', () => {
    const html = mailboxListPage([message]);
    expect(html).toContain('2026-11-25T10:00:00.123Z');
    expect(html).toContain('Alice &lt;alice@plant1.example&gt;');
    expect(html).toContain('<a href="mailbox/20261125T100000123Z-0a1b2c3d">Approval needed: &lt;MO_1&gt;</a>');
    expect(mailboxListPage([])).toContain('No messages yet.');
  });

  it('show the HTML part in a sandboxed frame whose links open outside it, escaped into srcdoc, and list the links to open in a new tab', () => {
    const html = mailboxMessagePage(message);
    expect(html).toContain('<iframe sandbox="allow-popups allow-popups-to-escape-sandbox" title="HTML part" srcdoc="&lt;base target=&quot;_blank&quot;&gt;&lt;p onclick=&quot;x&quot;&gt;Hi &amp; &quot;bye&quot;&lt;/p&gt;"></iframe>');
    expect(html).not.toMatch(/sandbox="[^"]*allow-(scripts|forms|same-origin|top-navigation)/);
    expect(html).toContain('<a href="http://127.0.0.1:3000/approvals/AP_1/reject?token=c.d" target="_blank" rel="noopener noreferrer">');
    expect(html).not.toContain('href="javascript:');
  });

  it('show the text part when there is no HTML part', () => {
    const html = mailboxMessagePage({ ...message, html: null, text: '<b>plain</b>' });
    expect(html).toContain('<pre>&lt;b&gt;plain&lt;/b&gt;</pre>');
    expect(html).not.toContain('<iframe');
  });
});
