import { Server } from 'lucide-react';
import './EmptyState.css';

/**
 * Shown when no integration is healthy: how to start a backend and how to
 * point Atmosphere at one that listens elsewhere.
 */
export default function EmptyState({ hasIntegrations }: { hasIntegrations: boolean }) {
  return (
    <section className="empty-state" data-testid="empty-state" aria-labelledby="empty-state-title">
      <Server size={28} className="empty-state-icon" />
      <div className="empty-state-body">
        <h2 id="empty-state-title">No healthy integration found</h2>
        <p>
          {hasIntegrations
            ? 'Atmosphere looked for LlamaFarm and Ollama but none answered as healthy. The cards below say why.'
            : 'Atmosphere has not reported any integration yet.'}{' '}
          Start one of these, then press <strong>Rescan</strong>:
        </p>
        <ul className="empty-state-steps">
          <li>
            <strong>Ollama</strong> — run <code>ollama serve</code> (and <code>ollama pull llama3.2</code> for a
            first model). Atmosphere looks at port <code>11434</code>.
          </li>
          <li>
            <strong>LlamaFarm</strong> — run <code>lf start</code>. Atmosphere looks at port <code>14345</code>.
          </li>
        </ul>
        <p>Running them somewhere else? Point Atmosphere at them with environment variables:</p>
        <pre className="inset empty-state-code">
          <code>
            {'ATMOSPHERE_OLLAMA_URL=http://127.0.0.1:11434\nATMOSPHERE_LLAMAFARM_URL=http://127.0.0.1:14345'}
          </code>
        </pre>
        <p>or flags:</p>
        <pre className="inset empty-state-code">
          <code>{'atmosphere serve --ollama-url http://HOST:11434 --llamafarm-url http://HOST:14345'}</code>
        </pre>
      </div>
    </section>
  );
}
