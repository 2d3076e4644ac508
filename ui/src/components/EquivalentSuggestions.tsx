import { useState } from 'react';
import { Check, LoaderCircle, Shuffle } from 'lucide-react';
import type { Equivalent, EquivalentSuggestion } from '../api/types';
import { useAction } from '../hooks/useAction';
import { FormError } from './FormParts';
import './EquivalentSuggestions.css';

function Members({ members }: { members: Record<string, string> }) {
  return (
    <span className="equivalent-members">
      {Object.entries(members).map(([host, native]) => (
        <span key={host}>
          {host}: <code>{native}</code>
        </span>
      ))}
    </span>
  );
}

function Suggestion({ suggestion, onAccept }: { suggestion: EquivalentSuggestion; onAccept: (name: string, members: Record<string, string>) => Promise<unknown> }) {
  const [name, setName] = useState(suggestion.name);
  const { pending, error, run } = useAction();

  async function accept(event: React.FormEvent) {
    event.preventDefault();
    await run(() => onAccept(name.trim(), suggestion.members));
  }

  return (
    <li className="equivalent-suggestion" data-testid="equivalent-suggestion">
      <form className="inset" onSubmit={accept}>
        <Members members={suggestion.members} />
        {suggestion.reason ? <span className="equivalent-reason">{suggestion.reason}</span> : null}
        <div className="equivalent-accept-row">
          <label>
            <span className="sr-only">Shared name</span>
            <input className="input small" data-testid="equivalent-name" value={name} onChange={(event) => setName(event.target.value)} required />
          </label>
          <button type="submit" className="button outline tone-accent small" data-testid="equivalent-accept" disabled={pending || !name.trim()}>
            {pending ? <LoaderCircle size={14} className="spin" /> : <Check size={14} />} Use as one model
          </button>
        </div>
        <FormError error={error} />
      </form>
    </li>
  );
}

interface Props {
  suggestions: EquivalentSuggestion[];
  accepted: Equivalent[];
  onAccept: (name: string, members: Record<string, string>) => Promise<unknown>;
}

/**
 * Models that look like one model under different names on different hosts.
 * Accepting gives them one shared name, so a request for it can fall back
 * across hosts; nothing is substituted until the operator accepts.
 */
export default function EquivalentSuggestions({ suggestions, accepted, onAccept }: Props) {
  if (!suggestions.length && !accepted.length) return null;
  return (
    <section className="panel equivalents" data-testid="equivalent-suggestions" aria-labelledby="equivalents-title">
      <h2 id="equivalents-title">
        <Shuffle size={16} /> Same model, different names?
      </h2>
      <p className="equivalents-note">Accept one to route its shared name to any of these integrations, with fallback between them.</p>
      <ul className="stack-list">
        {suggestions.map((s) => (
          <Suggestion key={Object.entries(s.members).map(([h, m]) => `${h}=${m}`).join('&')} suggestion={s} onAccept={onAccept} />
        ))}
      </ul>
      {accepted.map((e) => (
        <p key={e.name} className="equivalent-accepted" data-testid="equivalent-accepted" role="status">
          <Check size={14} /> <code>{e.name}</code> now names <Members members={e.members} />
        </p>
      ))}
    </section>
  );
}
