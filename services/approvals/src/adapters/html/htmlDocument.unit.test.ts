import { describe, expect, it } from 'vitest';
import { escapeHtml, htmlDocument, utcTime } from './htmlDocument.js';

describe('escapeHtml', () => {
  it('escapes the characters that end text or a quoted attribute', () => {
    expect(escapeHtml(`<a href="x" onclick='y'>&\`</a>`)).toBe('&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&#96;&lt;/a&gt;');
  });

  it('leaves other text, numbers and non-ASCII alone', () => {
    expect(escapeHtml('Dana Ruiz — 40 % of target')).toBe('Dana Ruiz — 40 % of target');
    expect(escapeHtml(42)).toBe('42');
  });

  it('escapes an already escaped text again, so it shows as written', () => {
    expect(escapeHtml('&lt;')).toBe('&amp;lt;');
  });
});

describe('htmlDocument', () => {
  it('escapes the title and loads nothing from elsewhere', () => {
    const html = htmlDocument('<Order>', '<p>body</p>');
    expect(html).toContain('<title>&lt;Order&gt;</title>');
    expect(html).toContain('<p>body</p>');
    expect(html).not.toMatch(/<script|<link|src=|@import|url\(/);
  });
});

describe('utcTime', () => {
  it('shows a time in UTC to the second, with the zone named', () => {
    expect(utcTime('2026-11-29T21:04:05.678Z')).toBe('2026-11-29 21:04:05 UTC');
    expect(utcTime('2026-11-29T22:04:05+01:00')).toBe('2026-11-29 21:04:05 UTC');
  });

  it('leaves what is not a time as it is', () => {
    expect(utcTime('unknown')).toBe('unknown');
  });
});
