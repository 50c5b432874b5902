// The console's frame: navigation between the views, who is signed in, whether updates are live.
import { useEffect } from 'preact/hooks';
import { useApi, LiveContext, useLiveStream } from './live.js';
import { useRoute, type Route } from './route.js';
import { ApprovalsView } from './views/ApprovalsView.js';
import { DeadLettersView } from './views/DeadLettersView.js';
import { MachinesView } from './views/MachinesView.js';
import { OrdersView } from './views/OrdersView.js';
import { OrderView } from './views/OrderView.js';
import { ProjectionsView } from './views/ProjectionsView.js';
import { ResourcesView } from './views/ResourcesView.js';

const NAV: { href: string; label: string; views: Route['view'][] }[] = [
  { href: '#/machines', label: 'Machines', views: ['machines'] },
  { href: '#/orders', label: 'Orders', views: ['orders', 'order'] },
  { href: '#/approvals', label: 'Approvals', views: ['approvals'] },
  { href: '#/resources', label: 'Resources', views: ['resources'] },
  { href: '#/dead-letters', label: 'Dead letters', views: ['deadLetters'] },
  { href: '#/projections', label: 'Projections', views: ['projections'] },
];

function View({ route }: { route: Route }) {
  switch (route.view) {
    case 'machines':
      return <MachinesView />;
    case 'orders':
      return <OrdersView route={route} />;
    case 'order':
      return <OrderView orderId={route.orderId ?? ''} />;
    case 'approvals':
      return <ApprovalsView />;
    case 'resources':
      return <ResourcesView />;
    case 'deadLetters':
      return <DeadLettersView />;
    case 'projections':
      return <ProjectionsView />;
    default: {
      const _exhaustive: never = route.view;
      return _exhaustive;
    }
  }
}

export function App() {
  const live = useLiveStream();
  const route = useRoute();
  const session = useApi<{ name: string | null }>('/api/console/session', []);
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  useEffect(() => {
    document.getElementById('main')?.focus();
  }, [route.view, route.orderId]);
  return (
    <LiveContext.Provider value={live}>
      <a class="skip" href="#main" onClick={(event) => {
        event.preventDefault();
        document.getElementById('main')?.focus();
      }}>
        Skip to content
      </a>
      <header class="top">
        <p class="brand">MES console</p>
        <nav aria-label="Views">
          <ul>
            {NAV.map((item) => (
              <li key={item.href}>
                <a href={item.href} aria-current={item.views.includes(route.view) ? 'page' : undefined}>
                  {item.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="session">
          <span class={`live ${live.connected ? 'on' : 'off'}`} role="status">
            {live.connected ? 'Live' : 'Reconnecting…'}
          </span>
          <span class="muted" title="Times are shown in this zone; records are kept in UTC">
            {zone}
          </span>
          {session.data?.name ? <span>Signed in as {session.data.name}</span> : null}
          <form method="post" action="/console/sign-out">
            <button type="submit" class="secondary">
              Sign out
            </button>
          </form>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <View route={route} />
      </main>
    </LiveContext.Provider>
  );
}
