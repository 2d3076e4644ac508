import { useId, useState } from 'react';
import { LoaderCircle } from 'lucide-react';
import { SURFACES, type KeyDraft } from '../api/keys';
import { useAction } from '../hooks/useAction';
import { FormError } from '../components/FormParts';
import { draftOf, type KeyFields } from './draft';
import './KeyForm.css';

const SURFACE_LABELS: Record<string, string> = { openai: 'OpenAI', anthropic: 'Anthropic', ollama: 'Ollama' };

interface KeyFormProps {
  initial: KeyFields;
  submitLabel: string;
  /** Names the form for screen readers and the tests (data-testid="<name>-form"). */
  name: string;
  onSubmit: (draft: KeyDraft) => Promise<unknown>;
  onCancel: () => void;
}

/** Name, expiry, surfaces, model patterns, limits, budget and prompt logging of one key; empty means "no limit". */
export default function KeyForm({ initial, submitLabel, name: formName, onSubmit, onCancel }: KeyFormProps) {
  const [fields, setFields] = useState<KeyFields>(initial);
  const { pending, error, run } = useAction();
  const id = useId();
  const set = <K extends keyof KeyFields>(field: K, value: KeyFields[K]) => setFields((f) => ({ ...f, [field]: value }));

  async function submit(event: React.FormEvent) {
    event.preventDefault();
    // A field the draft cannot read (a name missing, a limit not a whole number) fails like the service would.
    await run(() => onSubmit(draftOf(fields)));
  }

  function toggleSurface(surface: string, on: boolean) {
    set('surfaces', on ? [...fields.surfaces, surface] : fields.surfaces.filter((s) => s !== surface));
  }

  const number = (field: 'rpm' | 'tpm' | 'concurrent' | 'budget', label: string, hint: string) => (
    <div className="field">
      <label htmlFor={`${id}-${field}`}>{label}</label>
      <input
        className="input"
        id={`${id}-${field}`}
        data-testid={`key-${field}`}
        type="number"
        inputMode="numeric"
        min={1}
        step={1}
        placeholder={hint}
        value={fields[field]}
        onChange={(event) => set(field, event.target.value)}
      />
    </div>
  );

  return (
    <form className="panel form-grid" data-testid={`${formName}-form`} onSubmit={submit} aria-label={submitLabel} noValidate>
      <div className="field">
        <label htmlFor={`${id}-name`}>Name</label>
        <input className="input" id={`${id}-name`} data-testid="key-name" value={fields.name} placeholder="alice-laptop, rag-indexer…" onChange={(event) => set('name', event.target.value)} />
      </div>
      <div className="field">
        <label htmlFor={`${id}-expires`}>Expires on (optional)</label>
        <input className="input" id={`${id}-expires`} data-testid="key-expires" type="date" value={fields.expires} onChange={(event) => set('expires', event.target.value)} />
      </div>
      <fieldset className="field wide key-form-surfaces">
        <legend>Surfaces it may use</legend>
        {SURFACES.map((surface) => (
          <label key={surface}>
            <input type="checkbox" data-testid={`key-surface-${surface}`} checked={fields.surfaces.includes(surface)} onChange={(event) => toggleSurface(surface, event.target.checked)} />
            {SURFACE_LABELS[surface] ?? surface}
          </label>
        ))}
      </fieldset>
      <div className="field wide">
        <label htmlFor={`${id}-models`}>Models it may use (patterns, comma-separated; empty for all)</label>
        <input className="input" id={`${id}-models`} data-testid="key-models" value={fields.models} placeholder="llama3.2:*, fast" onChange={(event) => set('models', event.target.value)} />
      </div>
      {number('rpm', 'Requests per minute', 'no limit')}
      {number('tpm', 'Tokens per minute', 'no limit')}
      {number('concurrent', 'Concurrent requests', 'no limit')}
      {number('budget', 'Monthly token budget', 'no budget')}
      <label className="key-form-check wide">
        <input type="checkbox" data-testid="key-log-prompts" checked={fields.logPrompts} onChange={(event) => set('logPrompts', event.target.checked)} />
        Keep the prompts and answers of this key's requests in the history (off: only counts and timings)
      </label>
      <FormError error={error} testId="key-form-error" wide />
      <div className="form-actions wide">
        <button type="button" className="button outline" onClick={onCancel} disabled={pending}>
          Cancel
        </button>
        <button type="submit" className="button primary" data-testid="key-submit" disabled={pending}>
          {pending ? <LoaderCircle size={14} className="spin" /> : null}
          {submitLabel}
        </button>
      </div>
    </form>
  );
}
