import { useState } from 'react';
import { Clock, FolderOpen, Gauge, LoaderCircle, Plug, Unplug } from 'lucide-react';
import type { Integration, Project } from '../api/types';
import { errorMessage } from '../api/client';
import StatusBadge from './StatusBadge';
import ModelTags from './ModelTags';
import TestPanel from './TestPanel';
import RelativeTime from './RelativeTime';
import { formatLatency } from '../format';
import './IntegrationCard.css';

function Projects({ projects }: { projects: Project[] }) {
  return (
    <section className="integration-section">
      <h3 className="integration-section-title">
        <FolderOpen size={15} /> Projects <span className="integration-count">{projects.length}</span>
      </h3>
      <ul className="integration-projects">
        {projects.map((project) => {
          const key = `${project.namespace}/${project.name}`;
          return (
            <li key={key} className="integration-project" data-testid="project">
              <code className="integration-project-name">{key}</code>
              {project.default_model ? <span className="integration-project-default">default: {project.default_model}</span> : null}
              {project.models.length ? <span className="integration-project-models">models: {project.models.join(', ')}</span> : null}
            </li>
          );
        })}
      </ul>
    </section>
  );
}

interface Props {
  integration: Integration;
  onSetEnabled: (id: string, enabled: boolean) => Promise<unknown>;
}

/** One backend as the API describes it, with Connect/Disconnect and a test panel. */
export default function IntegrationCard({ integration, onSetEnabled }: Props) {
  const [pending, setPending] = useState(false);
  const [actionError, setActionError] = useState<string | null>(null);
  const { id, name, url, status, error, version, capabilities, models, model_count: modelCount, enabled, projects } = integration;
  const latency = formatLatency(integration.latency_ms);

  async function toggle() {
    setPending(true);
    setActionError(null);
    try {
      await onSetEnabled(id, !enabled);
    } catch (err) {
      setActionError(errorMessage(err));
    } finally {
      setPending(false);
    }
  }

  const ToggleIcon = pending ? LoaderCircle : enabled ? Unplug : Plug;

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

      {projects.length ? <Projects projects={projects} /> : null}

      <TestPanel integration={integration} />

      <footer className="integration-actions">
        {actionError ? (
          <p className="integration-action-error" role="alert">
            {actionError}
          </p>
        ) : null}
        <button
          type="button"
          className={`action-button ${enabled ? 'disconnect' : 'connect'}`}
          data-testid={enabled ? 'disconnect-button' : 'connect-button'}
          onClick={toggle}
          disabled={pending}
          aria-busy={pending}
          aria-label={enabled ? `Disconnect ${name}` : `Connect ${name}`}
        >
          <ToggleIcon size={16} className={pending ? 'spin' : undefined} />
          {enabled ? 'Disconnect' : 'Connect'}
        </button>
      </footer>
    </article>
  );
}
