import { useState } from 'react';
import { Clock, FolderOpen, Gauge, LoaderCircle, Plug, Unplug } from 'lucide-react';
import StatusBadge from './StatusBadge.jsx';
import ModelTags from './ModelTags.jsx';
import TestPanel from './TestPanel.jsx';
import { useNow } from '../hooks/useNow.js';
import { formatLatency, formatRelative, toDate } from '../format.js';
import './IntegrationCard.css';

function LastChecked({ seconds }) {
  const now = useNow(5000);
  const date = toDate(seconds);
  if (!date) return <span className="integration-meta-empty">never</span>;
  return (
    <time dateTime={date.toISOString()} title={date.toLocaleString()}>
      {formatRelative(date, now)}
    </time>
  );
}

function Projects({ projects }) {
  return (
    <section className="integration-section">
      <h3 className="integration-section-title">
        <FolderOpen size={15} /> Projects <span className="integration-count">{projects.length}</span>
      </h3>
      <ul className="integration-projects">
        {projects.map((project) => {
          const key = `${project.namespace}/${project.name}`;
          const models = Array.isArray(project.models) ? project.models : [];
          return (
            <li key={key} className="integration-project" data-testid="project">
              <code className="integration-project-name">{key}</code>
              {project.default_model ? <span className="integration-project-default">default: {project.default_model}</span> : null}
              {models.length ? <span className="integration-project-models">models: {models.join(', ')}</span> : null}
            </li>
          );
        })}
      </ul>
    </section>
  );
}

/**
 * One backend as the API describes it, with Connect/Disconnect and a test
 * panel. `onSetEnabled(id, enabled)` returns a promise (rejects with an ApiError).
 */
export default function IntegrationCard({ integration, onSetEnabled }) {
  const [pending, setPending] = useState(false);
  const [actionError, setActionError] = useState(null);
  const {
    id,
    name,
    url,
    status,
    error,
    version,
    capabilities = [],
    latency_ms: latencyMs,
    last_checked: lastChecked,
    enabled,
    projects,
  } = integration;
  const models = Array.isArray(integration.models) ? integration.models : [];
  const modelCount = typeof integration.model_count === 'number' ? integration.model_count : models.length;
  const latency = formatLatency(latencyMs);
  const isEnabled = enabled !== false;

  async function toggle() {
    setPending(true);
    setActionError(null);
    try {
      await onSetEnabled(id, !isEnabled);
    } catch (err) {
      setActionError(err && err.message ? err.message : String(err));
    } finally {
      setPending(false);
    }
  }

  const ToggleIcon = pending ? LoaderCircle : isEnabled ? Unplug : Plug;

  return (
    <article
      className={`integration-card status-${status}${isEnabled ? '' : ' is-disabled'}`}
      data-testid={`integration-card-${id}`}
      data-status={status}
      data-enabled={String(isEnabled)}
      aria-labelledby={`integration-${id}-name`}
    >
      <header className="integration-card-header">
        <div className="integration-identity">
          <h2 id={`integration-${id}-name`} className="integration-name">
            {name}
          </h2>
          <code className="integration-url">{url}</code>
        </div>
        <div className="integration-header-side">
          <StatusBadge status={status} />
          {!isEnabled ? <span className="integration-disabled-chip">Disconnected</span> : null}
        </div>
      </header>

      {error ? (
        // Healthy with a note (LlamaFarm "degraded", its project list unreadable): still said.
        <p className={`integration-error ${status}`} data-testid="status-reason">
          <span className="integration-error-label">{status === 'healthy' ? 'Note:' : 'Reason:'}</span> {error}
        </p>
      ) : null}

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
            <LastChecked seconds={lastChecked} />
          </dd>
        </div>
        <div>
          <dt>Models</dt>
          <dd data-testid="model-count">{modelCount}</dd>
        </div>
      </dl>

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
      </section>

      {Array.isArray(projects) && projects.length ? <Projects projects={projects} /> : null}

      <TestPanel integration={integration} />

      <footer className="integration-actions">
        {actionError ? (
          <p className="integration-action-error" role="alert">
            {actionError}
          </p>
        ) : null}
        <button
          type="button"
          className={`action-button ${isEnabled ? 'disconnect' : 'connect'}`}
          data-testid={isEnabled ? 'disconnect-button' : 'connect-button'}
          onClick={toggle}
          disabled={pending}
          aria-busy={pending}
          aria-label={isEnabled ? `Disconnect ${name}` : `Connect ${name}`}
        >
          <ToggleIcon size={16} className={pending ? 'spin' : undefined} />
          {isEnabled ? 'Disconnect' : 'Connect'}
        </button>
      </footer>
    </article>
  );
}
