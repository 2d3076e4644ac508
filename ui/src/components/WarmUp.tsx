import { useId, useState } from 'react';
import { Flame, LoaderCircle } from 'lucide-react';
import type { Integration, WarmResult } from '../api/types';
import { errorMessage } from '../api/client';
import { formatLatency } from '../format';
import { modelKey } from './ModelTags';
import './WarmUp.css';

interface Props {
  integration: Integration;
  onWarm?: (id: string, model: string) => Promise<WarmResult>;
}

/**
 * The models resident on this host now, and a "Warm up" action that loads
 * one ahead of its first request: offered only where the service says the
 * host supports it (`warmup_supported`).
 */
export default function WarmUp({ integration, onWarm }: Props) {
  const selectId = useId();
  const candidates = integration.models.filter((m) => m.ready !== false && !m.capabilities.every((c) => c === 'embeddings'));
  const [model, setModel] = useState('');
  const [running, setRunning] = useState(false);
  const [result, setResult] = useState<WarmResult | null>(null);
  const loaded = integration.models.filter((m) => m.loaded === true);
  const knowsResidency = integration.models.some((m) => m.loaded !== null);
  const offer = integration.warmup_supported && onWarm !== undefined && candidates.length > 0;
  if (!offer && !knowsResidency) return null;
  const chosen = model || candidates[0]?.id || '';

  async function warm() {
    if (!onWarm || !chosen) return;
    setRunning(true);
    setResult(null);
    try {
      setResult(await onWarm(integration.id, chosen));
    } catch (err) {
      setResult({ success: false, integration_id: integration.id, model: chosen, latency_ms: null, error: errorMessage(err) });
    } finally {
      setRunning(false);
    }
  }

  return (
    <section className="warmup" data-testid="warmup">
      {knowsResidency ? (
        <p className="warmup-loaded" data-testid="loaded-models">
          <span className="warmup-label">Loaded now:</span>{' '}
          {loaded.length ? loaded.map((m) => m.name).join(', ') : <span className="warmup-none">none</span>}
        </p>
      ) : null}
      {offer ? (
        <div className="warmup-form">
          <label htmlFor={selectId} className="sr-only">
            Model to warm up on {integration.name}
          </label>
          <select className="input small" id={selectId} data-testid="warmup-select" value={chosen} onChange={(event) => setModel(event.target.value)}>
            {candidates.map((m) => (
              <option key={modelKey(m)} value={m.id}>
                {m.name}
                {m.loaded ? ' (loaded)' : ''}
              </option>
            ))}
          </select>
          <button type="button" className="button outline tone-warning small" data-testid="warmup-button" disabled={running} aria-busy={running} onClick={() => void warm()}>
            {running ? <LoaderCircle size={15} className="spin" /> : <Flame size={15} />}
            {running ? 'Warming…' : 'Warm up'}
          </button>
        </div>
      ) : null}
      {result ? (
        <p className={`warmup-result ${result.success ? 'success' : 'error'}`} data-testid="warmup-result" data-success={String(result.success)} role="status">
          {result.success
            ? `${result.model ?? chosen} is loaded${result.latency_ms !== null ? ` (${formatLatency(result.latency_ms)})` : ''}.`
            : `Could not warm up ${result.model ?? chosen}: ${result.error ?? 'no reason given'}`}
        </p>
      ) : null}
    </section>
  );
}
