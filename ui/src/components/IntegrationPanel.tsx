import { useEffect, useRef, useState } from 'react';
import { LoaderCircle, Puzzle, RefreshCw, TriangleAlert } from 'lucide-react';
import { takesWork, type Integration } from '../api/types';
import { ApiError } from '../api/client';
import { askForKey } from '../api/auth';
import { groupByKind } from '../api/order';
import { POLL_INTERVAL_MS, useIntegrations } from '../hooks/useIntegrations';
import { formatInterval } from '../format';
import IntegrationGroup from './IntegrationGroup';
import AddHostForm from './AddHostForm';
import EquivalentSuggestions from './EquivalentSuggestions';
import { useEquivalents } from '../hooks/useEquivalents';
import LiveIndicator from './LiveIndicator';
import PageHeader from './PageHeader';
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

/** The Integrations page: one card per integration the service reports, live. */
export default function IntegrationPanel({ pollMs = POLL_INTERVAL_MS, socketUrl }: { pollMs?: number; socketUrl?: string }) {
  const { integrations, phase, error, rescanning, updatedAt, liveState, rescan, retry, setEnabled, add, remove, reorder, warm } =
    useIntegrations({ pollMs, socketUrl });
  const announcement = useStatusAnnouncement(integrations);
  // Suggestions depend on which hosts are up and what they list: ask again when that changes.
  const modelsKey = integrations.map((i) => `${i.id}:${i.status}:${i.models.map((m) => m.id).join(',')}`).join('|');
  const equivalents = useEquivalents(modelsKey);
  const anyHealthy = integrations.some((item) => takesWork(item.status));
  const needsKey = error instanceof ApiError && error.status === 401;
  // Features appear only where the service reports what they need (hosts it manages, a priority order).
  const managesHosts = integrations.some((item) => item.removable !== null);
  const keepsOrder = integrations.length > 1 && integrations.every((item) => item.priority !== null);

  return (
    <div className="page integration-panel">
      <PageHeader
        title="Integrations"
        icon={Puzzle}
        subtitle="The LlamaFarm and Ollama servers Atmosphere routes requests to, by kind, in priority order."
        actions={
          <>
            <LiveIndicator state={liveState} pollMs={pollMs} />
            {phase === 'ready' && updatedAt !== null ? (
              <span className="panel-updated">
                Updated <RelativeTime seconds={updatedAt} />
              </span>
            ) : null}
            <button
              type="button"
              className="button rescan"
              data-testid="rescan-button"
              onClick={() => void rescan()}
              disabled={rescanning}
              aria-busy={rescanning}
              aria-label="Rescan the integrations"
            >
              <RefreshCw size={16} className={rescanning ? 'spin' : undefined} />
              {rescanning ? 'Scanning…' : 'Rescan'}
            </button>
          </>
        }
      />

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
            <h2>{needsKey ? 'The Atmosphere API needs its API key' : 'Cannot reach the Atmosphere API'}</h2>
            <p>{error ? error.message : 'The request failed.'}</p>
            {needsKey ? null : (
              <p className="panel-api-error-hint">
                Is <code>atmosphere serve</code> running?{pollMs ? ` This page retries every ${formatInterval(pollMs)}.` : ''}
              </p>
            )}
          </div>
          {needsKey ? (
            <button type="button" className="button retry" data-testid="enter-key-button" onClick={askForKey}>
              Enter API key
            </button>
          ) : (
            <button type="button" className="button retry" onClick={() => void retry()}>
              Retry
            </button>
          )}
        </div>
      ) : null}

      {phase === 'ready' && error ? (
        <div className="panel-api-error compact" data-testid="api-error" role="alert">
          <TriangleAlert size={18} />
          <p>Lost contact with the Atmosphere API ({error.message}). The cards show the last status it reported.</p>
          <button type="button" className="button retry" onClick={() => void retry()}>
            Retry
          </button>
        </div>
      ) : null}

      {phase === 'ready' && !anyHealthy ? <EmptyState hasIntegrations={integrations.length > 0} /> : null}

      {phase === 'ready' && managesHosts ? <AddHostForm onAdd={add} /> : null}

      {phase === 'ready' && equivalents.available ? (
        <EquivalentSuggestions suggestions={equivalents.suggestions} accepted={equivalents.accepted} onAccept={equivalents.accept} />
      ) : null}

      {phase === 'ready' && integrations.length ? (
        <div className="integration-groups">
          {groupByKind(integrations).map((group) => (
            <IntegrationGroup
              key={group.kind}
              kind={group.kind}
              members={group.integrations}
              all={integrations}
              stale={error !== null}
              onSetEnabled={setEnabled}
              onReorder={keepsOrder ? reorder : undefined}
              onRemove={managesHosts ? remove : undefined}
              onWarm={warm}
            />
          ))}
        </div>
      ) : null}
    </div>
  );
}
