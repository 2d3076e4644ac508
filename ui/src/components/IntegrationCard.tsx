import { Clock, Gauge } from 'lucide-react';
import type { Integration, Network, WarmResult } from '../api/types';
import { kindLabel } from '../api/order';
import { formatLatency } from '../format';
import StatusBadge from './StatusBadge';
import ModelTags from './ModelTags';
import ProjectList from './ProjectList';
import BreakerState from './BreakerState';
import QueueState from './QueueState';
import CardStats from './CardStats';
import WarmUp from './WarmUp';
import TestPanel from './TestPanel';
import RelativeTime from './RelativeTime';
import CardActions, { type CardActionHandlers } from './CardActions';
import './IntegrationCard.css';

const NETWORK_LABELS: Record<Network, string> = { loopback: 'this machine', private: 'private network', public: 'public network' };
const NETWORK_TITLES: Record<Network, string> = {
  loopback: 'The host is this machine (a loopback address or localhost).',
  private: 'The host is on a private network (a LAN address or a local name).',
  public: 'The host is on a public address or name: prompts leave your network.',
};

interface Props extends CardActionHandlers {
  integration: Integration;
  onWarm?: (id: string, model: string) => Promise<WarmResult>;
}

/** One integration as the API describes it: status, traffic, models, and what can be done with it. */
export default function IntegrationCard({ integration, onWarm, ...actions }: Props) {
  const { id, name, url, status, error, version, capabilities, models, model_count: modelCount, enabled } = integration;
  const latency = formatLatency(integration.latency_ms);

  return (
    <article
      className={`integration-card status-${status}${enabled ? '' : ' is-disabled'}`}
      data-testid={`integration-card-${id}`}
      data-status={status}
      data-enabled={String(enabled)}
      aria-labelledby={`integration-${id}-name`}
    >
      <header className="integration-card-header">
        <div className="integration-identity">
          <h2 id={`integration-${id}-name`} className="integration-name">
            {name}
          </h2>
          <code className="integration-url">{url}</code>
          <span className="integration-kind">
            {kindLabel(integration.type)}
            {integration.priority !== null ? <span data-testid="priority"> · priority {integration.priority}</span> : null}
            {integration.network ? (
              <span data-testid="network" data-network={integration.network} title={NETWORK_TITLES[integration.network]}>
                {' '}
                · {NETWORK_LABELS[integration.network]}
              </span>
            ) : null}
          </span>
        </div>
        <div className="integration-header-side">
          <StatusBadge status={status} />
          {!enabled ? <span className="integration-disabled-chip">Disconnected</span> : null}
        </div>
      </header>

      {error ? (
        // Healthy with a note (e.g. its project list unreadable): still said.
        <p className={`integration-error ${status}`} data-testid="status-reason">
          <span className="integration-error-label">{status === 'healthy' ? 'Note:' : 'Reason:'}</span> {error}
        </p>
      ) : null}

      <BreakerState breaker={integration.breaker} />

      <dl className="integration-meta">
        <div>
          <dt>Version</dt>
          <dd>{version || <span className="integration-meta-empty">unknown</span>}</dd>
        </div>
        <div>
          <dt>
            <Gauge size={13} /> Latency
          </dt>
          <dd data-testid="probe-latency">{latency || <span className="integration-meta-empty">—</span>}</dd>
        </div>
        <div>
          <dt>
            <Clock size={13} /> Last checked
          </dt>
          <dd>
            <RelativeTime seconds={integration.last_checked} fallback={<span className="integration-meta-empty">never</span>} />
          </dd>
        </div>
        <div>
          <dt>Models</dt>
          <dd data-testid="model-count">{modelCount}</dd>
        </div>
      </dl>

      <QueueState integration={integration} />
      <CardStats stats={integration.stats} />

      {capabilities.length ? (
        <ul className="capability-badges" aria-label="Capabilities">
          {capabilities.map((capability) => (
            <li key={capability} className={`capability-badge capability-${capability}`}>
              {capability}
            </li>
          ))}
        </ul>
      ) : null}

      <section className="integration-section">
        <h3 className="integration-section-title">
          Models <span className="integration-count">{modelCount}</span>
        </h3>
        <ModelTags models={models} />
        <WarmUp integration={integration} onWarm={onWarm} />
      </section>

      <ProjectList projects={integration.projects} />

      <TestPanel integration={integration} />

      <CardActions integration={integration} {...actions} />
    </article>
  );
}
