// Where the console is, in the URL's fragment (#/orders?plant=P1, #/orders/MO_1), so views can
// be bookmarked and the back button works.
import { useEffect, useState } from 'preact/hooks';

export interface Route {
  view: 'machines' | 'orders' | 'order' | 'approvals' | 'resources' | 'deadLetters' | 'projections';
  orderId?: string;
  query: URLSearchParams;
}

export function parseRoute(hash: string): Route {
  const [path = '', search = ''] = hash.replace(/^#/, '').split('?');
  const query = new URLSearchParams(search);
  const parts = path.split('/').filter(Boolean);
  if (parts[0] === 'orders' && parts[1] !== undefined) return { view: 'order', orderId: decodeURIComponent(parts[1]), query };
  switch (parts[0]) {
    case 'orders':
    case 'approvals':
    case 'resources':
    case 'projections':
      return { view: parts[0], query };
    case 'dead-letters':
      return { view: 'deadLetters', query };
    default:
      return { view: 'machines', query };
  }
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

export function orderHref(orderId: string): string {
  return `#/orders/${encodeURIComponent(orderId)}`;
}
