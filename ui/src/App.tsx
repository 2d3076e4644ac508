import { Activity, BarChart3, BookOpen, CloudSun, KeyRound, MessagesSquare, Puzzle } from 'lucide-react';
import { Suspense, lazy, type ComponentType } from 'react';
import type { LucideIcon } from 'lucide-react';
import IntegrationPanel from './components/IntegrationPanel';
import ApiPage from './components/ApiPage';
import RequestsPage from './components/RequestsPage';
import PlaygroundPage from './components/PlaygroundPage';
import KeyDialog from './components/KeyDialog';
import KeysPage from './keys/KeysPage';
import { useHashRoute } from './hooks/useHashRoute';
import './App.css';

interface PageEntry {
  id: string;
  label: string;
  icon: LucideIcon;
  component: ComponentType;
}

// The charts (Chart.js) load with the Usage page only, so the other pages stay as light as before.
const UsagePage = lazy(() => import('./usage/UsagePage'));

const pages: PageEntry[] = [
  { id: 'integrations', label: 'Integrations', icon: Puzzle, component: IntegrationPanel },
  { id: 'requests', label: 'Requests', icon: Activity, component: RequestsPage },
  { id: 'usage', label: 'Usage', icon: BarChart3, component: UsagePage },
  { id: 'keys', label: 'Keys', icon: KeyRound, component: KeysPage },
  { id: 'playground', label: 'Playground', icon: MessagesSquare, component: PlaygroundPage },
  { id: 'api', label: 'API', icon: BookOpen, component: ApiPage },
];

// The hash holds the route, so the skip link moves focus itself instead of navigating.
function skipToMain(event: React.MouseEvent) {
  event.preventDefault();
  document.getElementById('main')?.focus();
}

/** App shell: brand, navigation (hash routes) and the current page. */
export default function App() {
  const route = useHashRoute(pages[0].id);
  const page = pages.find((candidate) => candidate.id === route) ?? pages[0];
  const Page = page.component;

  return (
    <div className="app-shell">
      <a className="skip-link" href="#main" onClick={skipToMain}>
        Skip to content
      </a>
      <aside className="app-sidebar">
        <div className="app-brand">
          <CloudSun size={24} />
          <span>Atmosphere</span>
        </div>
        <nav aria-label="Main">
          <ul className="app-nav">
            {pages.map(({ id, label, icon: Icon }) => (
              <li key={id}>
                <a href={`#/${id}`} className="app-nav-link" aria-current={id === page.id ? 'page' : undefined} data-testid={`nav-${id}`}>
                  <Icon size={18} />
                  <span>{label}</span>
                </a>
              </li>
            ))}
          </ul>
        </nav>
      </aside>
      <main id="main" className="app-main" tabIndex={-1}>
        <Suspense fallback={<p className="app-loading">Loading…</p>}>
          <Page />
        </Suspense>
      </main>
      <KeyDialog />
    </div>
  );
}
