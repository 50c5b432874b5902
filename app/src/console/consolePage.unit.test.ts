import { describe, expect, it } from 'vitest';
import { escapeHtml } from '@mes/platform';
import { consolePage } from './consolePage.js';

describe('console page', () => {
  it('links to /health, to the development mailbox when there is one, and lists the API routes', () => {
    const html = consolePage({ mailbox: true, apiRoutes: ['GET /api/dead-letters', 'POST /api/orders/:orderId/complete'] });
    expect(html).toContain('<a href="/health">');
    expect(html).toContain('<a href="/dev/mailbox">');
    expect(html).toContain('<li><code>GET /api/dead-letters</code></li>');
    expect(html).toContain('<li><code>POST /api/orders/:orderId/complete</code></li>');
    expect(html).not.toContain('<script');
  });

  it('has no mailbox link when mail goes out through SMTP_URL, and says when no API route exists', () => {
    const html = consolePage({ mailbox: false, apiRoutes: [] });
    expect(html).not.toContain('/dev/mailbox');
    expect(html).toContain('No API routes are registered yet.');
  });

  it('escapes what it shows', () => {
    const html = consolePage({ mailbox: false, apiRoutes: ['GET /api/<script>alert("x")</script>'] });
    expect(html).toContain('<code>GET /api/&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</code>');
    expect(html).not.toContain('<script>');
    expect(escapeHtml(`&<>"'\``)).toBe('&amp;&lt;&gt;&quot;&#39;&#96;');
  });
});
