import { useEffect, useRef, useState } from 'react';
import { LoaderCircle, Puzzle, RefreshCw, TriangleAlert } from 'lucide-react';
import type { Integration } from '../api/types';
import { POLL_INTERVAL_MS, useIntegrations } from '../hooks/useIntegrations';
import { formatInterval } from '../format';
import IntegrationCard from './IntegrationCard';
import LiveIndicator from './LiveIndicator';
import EmptyState from './EmptyState';
import RelativeTime from './RelativeTime';
import './IntegrationPanel.css';

/** Text for the screen-reader live region when a card's status changes. */
function useStatusAnnouncement(integrations: Integration[]): string {
  const previous = useRef<Map<string, string> | null>(null);
  const [message, setMessage] = useState('');
  useEffect(() => {
    const before = previous.current;
    previous.current = new Map(integrations.map((item) => [item.id, item.status]));
    if (!before) return;
    const changes: string[] = [];
    for (const item of integrations) {
      const was = before.get(item.id);
      if (was !== undefined && was !== item.status) {
        changes.push(`${item.name} is now ${item.status}${item.status !== 'healthy' && item.error ? `: ${item.error}` : ''}.`);
      }
    }
    if (changes.length) setMessage(changes.join(' '));
  }, [integrations]);
  return message;
}

/** The Integrations page: one card per backend the service reports, live. */
export default function IntegrationPanel({ pollMs = POLL_INTERVAL_MS, socketUrl }: { pollMs?: number; socketUrl?: string }) {
  const { integrations, phase, error, rescanning, updatedAt, liveState, rescan, retry, setEnabled } = useIntegrations({
    pollMs,
    socketUrl,
  });
  const announcement = useStatusAnnouncement(integrations);
  const anyHealthy = integrations.some((item) => item.status === 'healthy' || item.status === 'degraded');

  return (
    <div className="integration-panel">
      <header className="panel-header">
        <div className="panel-title">
          <h1>
            <Puzzle size={22} /> Integrations
          </h1>
          <p className="panel-subtitle">Local AI backends Atmosphere discovered and can route requests to.</p>
        </div>
        <div className="panel-toolbar">
          <LiveIndicator state={liveState} pollMs={pollMs} />
          {phase === 'ready' && updatedAt !== null ? (
            <span className="panel-updated">
              Updated <RelativeTime seconds={updatedAt} />
            </span>
          ) : null}
          <button
            type="button"
            className="action-button rescan"
            data-testid="rescan-button"
            onClick={() => void rescan()}
            disabled={rescanning}
            aria-busy={rescanning}
            aria-label="Rescan for backends"
          >
            <RefreshCw size={16} className={rescanning ? 'spin' : undefined} />
            {rescanning ? 'Scanning…' : 'Rescan'}
          </button>
        </div>
      </header>

      <p className="sr-only" role="status" aria-live="polite">
        {announcement}
      </p>

      {phase === 'loading' ? (
        <div className="panel-loading" data-testid="loading-state" role="status">
          <LoaderCircle size={20} className="spin" /> Loading integrations…
        </div>
      ) : null}

      {phase === 'error' ? (
        <div className="panel-api-error" data-testid="api-error" role="alert">
          <TriangleAlert size={22} />
          <div>
            <h2>Cannot reach the Atmosphere API</h2>
            <p>{error ? error.message : 'The request failed.'}</p>
            <p className="panel-api-error-hint">
              Is <code>atmosphere serve</code> running?{pollMs ? ` This page retries every ${formatInterval(pollMs)}.` : ''}
            </p>
          </div>
          <button type="button" className="action-button retry" onClick={() => void retry()}>
            Retry
          </button>
        </div>
      ) : null}

      {phase === 'ready' && error ? (
        <div className="panel-api-error compact" data-testid="api-error" role="alert">
          <TriangleAlert size={18} />
          <p>Lost contact with the Atmosphere API ({error.message}). The cards show the last status it reported.</p>
          <button type="button" className="action-button retry" onClick={() => void retry()}>
            Retry
          </button>
        </div>
      ) : null}

      {phase === 'ready' && !anyHealthy ? <EmptyState hasIntegrations={integrations.length > 0} /> : null}

      {phase === 'ready' && integrations.length ? (
        <div className={`integration-grid${error ? ' is-stale' : ''}`}>
          {integrations.map((integration) => (
            <IntegrationCard key={integration.id} integration={integration} onSetEnabled={setEnabled} />
          ))}
        </div>
      ) : null}
    </div>
  );
}
