import { useId, useState } from 'react';
import { CircleCheck, LoaderCircle, Play, TriangleAlert } from 'lucide-react';
import type { Integration, Model } from '../api/types';
import { useTestRuns, type TestRun } from '../hooks/useTestRuns';
import { formatLatency } from '../format';
import { modelKey } from './ModelTags';
import './TestPanel.css';

export const DEFAULT_PROMPT = 'Say hello in one short sentence.';

function _modelOptionLabel(model: Model): string {
  return model.project ? `${model.name} (${model.project})` : model.name;
}

/** One answer from POST /v1/integrations/test, success or failure. */
export function TestResult({ run }: { run: TestRun }) {
  const latency = formatLatency(run.latencyMs);
  return (
    <li className={`test-result ${run.success ? 'success' : 'error'}`} data-testid="test-result" data-success={String(run.success)}>
      <div className="test-result-header">
        <span className="test-result-outcome">
          {run.success ? <CircleCheck size={16} /> : <TriangleAlert size={16} />}
          {run.success ? 'Success' : 'Failed'}
        </span>
        {run.modelUsed ? (
          <span className="test-model-used">
            model <code data-testid="test-model-used">{run.modelUsed}</code>
          </span>
        ) : null}
        {latency ? (
          <span className="test-latency" data-testid="test-latency" title="Round trip measured by Atmosphere">
            {latency}
          </span>
        ) : null}
      </div>
      <p className="test-prompt" title={run.prompt}>
        <span className="test-prompt-label">Prompt:</span> {run.prompt}
      </p>
      {run.success ? (
        <p className="test-response-text">{run.response ?? ''}</p>
      ) : (
        <p className="test-error-text" data-testid="test-error">
          {run.error || 'The test failed and the service gave no reason.'}
        </p>
      )}
    </li>
  );
}

/**
 * Prompt box, model picker and Test button for one integration, with the last
 * few results underneath (newest first) for comparison.
 */
export default function TestPanel({ integration }: { integration: Integration }) {
  const { runs, running, run } = useTestRuns(integration.id);
  const [prompt, setPrompt] = useState(DEFAULT_PROMPT);
  const [model, setModel] = useState('');
  const promptId = useId();
  const modelId = useId();
  const models = integration.models;
  const canRun = !running && prompt.trim().length > 0;

  function onSubmit(event: React.SyntheticEvent) {
    event.preventDefault();
    if (!canRun) return;
    void run({ prompt: prompt.trim(), model: model || undefined });
  }

  return (
    <section className="test-panel" aria-label={`Test ${integration.name}`}>
      <form className="test-form" onSubmit={onSubmit}>
        <div className="test-field test-field-prompt">
          <label htmlFor={promptId}>Prompt</label>
          <textarea
            id={promptId}
            data-testid="prompt-input"
            rows={2}
            value={prompt}
            onChange={(event) => setPrompt(event.target.value)}
            onKeyDown={(event) => {
              if (event.key === 'Enter' && (event.metaKey || event.ctrlKey)) onSubmit(event);
            }}
          />
        </div>
        <div className="test-row">
          <div className="test-field test-field-model">
            <label htmlFor={modelId}>Model</label>
            <select id={modelId} data-testid="model-select" value={model} onChange={(event) => setModel(event.target.value)}>
              <option value="">{integration.default_model ? `Default (${integration.default_model})` : 'Default model'}</option>
              {models.map((m) => (
                <option key={modelKey(m)} value={m.id}>
                  {_modelOptionLabel(m)}
                </option>
              ))}
            </select>
          </div>
          <button
            type="submit"
            className="button test"
            data-testid="test-button"
            disabled={!canRun}
            aria-busy={running}
            aria-label={running ? `Testing ${integration.name}` : `Test ${integration.name}`}
          >
            {running ? <LoaderCircle size={16} className="spin" /> : <Play size={16} />}
            {running ? 'Testing…' : 'Test'}
          </button>
        </div>
      </form>
      <div className="test-results-region" aria-live="polite" aria-busy={running}>
        {running ? <p className="sr-only">Running test against {integration.name}…</p> : null}
        {runs.length > 0 ? (
          <ol className="stack-list test-results" aria-label={`Latest test results for ${integration.name}`}>
            {runs.map((entry) => (
              <TestResult key={entry.key} run={entry} />
            ))}
          </ol>
        ) : null}
      </div>
    </section>
  );
}
