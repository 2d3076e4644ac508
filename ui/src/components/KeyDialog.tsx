import { useId, useState } from 'react';
import { KeyRound } from 'lucide-react';
import { dismissKeyPrompt, setApiKey } from '../api/auth';
import { useApiKey } from '../hooks/useApiKey';
import './KeyDialog.css';

/**
 * Asks for the API key once, when the service answered 401. The key is kept
 * in this tab's session storage and sent with every call from then on.
 */
export default function KeyDialog() {
  const { needed, refused } = useApiKey();
  const [value, setValue] = useState('');
  const titleId = useId();
  const inputId = useId();
  if (!needed) return null;

  function submit(event: React.FormEvent) {
    event.preventDefault();
    if (!value.trim()) return;
    setApiKey(value);
    setValue('');
  }

  return (
    <div className="key-dialog-backdrop">
      <div className="key-dialog" role="dialog" aria-modal="true" aria-labelledby={titleId} data-testid="api-key-dialog">
        <form onSubmit={submit}>
          <h2 id={titleId}>
            <KeyRound size={18} /> API key needed
          </h2>
          <p>
            {refused
              ? 'The service refused the key this page sent. Enter the right one.'
              : 'This Atmosphere asks for an API key (ATMOSPHERE_API_KEY). It is kept in this tab only, until you close it.'}
          </p>
          <label htmlFor={inputId}>API key</label>
          <input
            className="input"
            id={inputId}
            type="password"
            autoComplete="off"
            autoFocus
            data-testid="api-key-input"
            value={value}
            onChange={(event) => setValue(event.target.value)}
          />
          <div className="form-actions">
            <button type="button" className="button large outline" onClick={dismissKeyPrompt}>
              Not now
            </button>
            <button type="submit" className="button large primary" data-testid="api-key-submit" disabled={!value.trim()}>
              Use this key
            </button>
          </div>
        </form>
      </div>
    </div>
  );
}
