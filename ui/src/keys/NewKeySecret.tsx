import { useState } from 'react';
import { Check, Copy, KeyRound } from 'lucide-react';
import type { NewClientKey } from '../api/keys';
import { keySnippets } from '../api/keySnippets';
import { Snippet, copyText } from '../components/CodeSnippets';
import '../components/CodeSnippets.css';
import './NewKeySecret.css';

/**
 * The new key's secret, the one time the service shows it: a copy button, and set-up
 * for each client with the secret already in place. Closing it forgets the secret.
 */
export default function NewKeySecret({ created, origin, model, onDone }: { created: NewClientKey; origin: string; model: string; onDone: () => void }) {
  const [copied, setCopied] = useState<boolean | null>(null);
  return (
    <section className="panel new-key" data-testid="new-key" aria-labelledby="new-key-title">
      <h2 id="new-key-title">
        <KeyRound size={18} /> Key “{created.name}” created
      </h2>
      <p className="new-key-warning">Copy the secret now: it is shown only this once. Atmosphere keeps only a hash of it; a lost key is revoked and made anew.</p>
      <div className="new-key-secret">
        <code className="input" data-testid="new-key-secret">{created.secret}</code>
        <button type="button" className="button outline" data-testid="copy-secret" onClick={() => void copyText(created.secret).then(setCopied)}>
          {copied ? <Check size={14} /> : <Copy size={14} />}
          {copied === null ? 'Copy' : copied ? 'Copied' : 'Select and copy'}
        </button>
      </div>
      <h3>Use it from</h3>
      <div className="code-snippets">
        {keySnippets(origin, created.secret, model).map((snippet) => (
          <Snippet key={snippet.id} name={`key-${snippet.id}`} title={snippet.title} code={snippet.code} />
        ))}
      </div>
      <div className="new-key-actions">
        <button type="button" className="button primary" data-testid="new-key-done" onClick={onDone}>
          I have copied it
        </button>
      </div>
    </section>
  );
}
