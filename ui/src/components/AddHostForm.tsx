import { useId, useState } from 'react';
import { LoaderCircle, Plus } from 'lucide-react';
import type { NewHost } from '../api/types';
import { useAction } from '../hooks/useAction';
import { FormError, Options } from './FormParts';
import './AddHostForm.css';

const KINDS: { id: NewHost['kind']; label: string; port: number }[] = [
  { id: 'ollama', label: 'Ollama', port: 11434 },
  { id: 'llamafarm', label: 'LlamaFarm', port: 14345 },
];

/** A form for one more integration: kind, name, URL and (LlamaFarm) its Universal Runtime URL. */
export default function AddHostForm({ onAdd }: { onAdd: (host: NewHost) => Promise<unknown> }) {
  const [open, setOpen] = useState(false);
  const [kind, setKind] = useState<NewHost['kind']>('ollama');
  const [name, setName] = useState('');
  const [url, setUrl] = useState('');
  const [runtimeUrl, setRuntimeUrl] = useState('');
  const { pending, error, run } = useAction();
  const ids = { kind: useId(), name: useId(), url: useId(), runtime: useId() };
  const port = KINDS.find((k) => k.id === kind)?.port;

  if (!open) {
    return (
      <button type="button" className="add-host-toggle" data-testid="add-host-toggle" onClick={() => setOpen(true)}>
        <Plus size={16} /> Add an integration
      </button>
    );
  }

  async function submit(event: React.FormEvent) {
    event.preventDefault();
    const host: NewHost = { kind, name: name.trim(), url: url.trim() };
    if (kind === 'llamafarm' && runtimeUrl.trim()) host.runtime_url = runtimeUrl.trim();
    if (await run(() => onAdd(host))) {
      setName('');
      setUrl('');
      setRuntimeUrl('');
      setOpen(false);
    }
  }

  return (
    <form className="panel form-grid" data-testid="add-host-form" onSubmit={submit} aria-label="Add an integration">
      <div className="field">
        <label htmlFor={ids.kind}>Kind</label>
        <select className="input" id={ids.kind} data-testid="add-host-kind" value={kind} onChange={(event) => setKind(event.target.value as NewHost['kind'])}>
          <Options options={KINDS} />
        </select>
      </div>
      <div className="field">
        <label htmlFor={ids.name}>Name</label>
        <input className="input" id={ids.name} data-testid="add-host-name" required value={name} placeholder="gpu-box" onChange={(event) => setName(event.target.value)} />
      </div>
      <div className="field wide">
        <label htmlFor={ids.url}>URL</label>
        <input className="input" id={ids.url} data-testid="add-host-url" required type="url" value={url} placeholder={`http://192.168.1.20:${port}`} onChange={(event) => setUrl(event.target.value)} />
      </div>
      {kind === 'llamafarm' ? (
        <div className="field wide">
          <label htmlFor={ids.runtime}>Runtime URL (optional)</label>
          <input className="input" id={ids.runtime} data-testid="add-host-runtime-url" type="url" value={runtimeUrl} placeholder="same host, port 11540" onChange={(event) => setRuntimeUrl(event.target.value)} />
        </div>
      ) : null}
      <FormError error={error} testId="add-host-error" wide />
      <div className="form-actions wide">
        <button type="button" className="button large outline" onClick={() => setOpen(false)}>
          Cancel
        </button>
        <button type="submit" className="button large primary" data-testid="add-host-submit" disabled={pending} aria-busy={pending}>
          {pending ? <LoaderCircle size={16} className="spin" /> : <Plus size={16} />} Add
        </button>
      </div>
    </form>
  );
}
