import { useId, useState } from 'react';
import { Eraser, LoaderCircle, MessagesSquare, Send, Square } from 'lucide-react';
import { chatRequestBody } from '../api/chat';
import { useApiKey } from '../hooks/useApiKey';
import { useChat } from '../hooks/useChat';
import { useModels } from '../hooks/useModels';
import ServedInfo from './ServedInfo';
import CodeSnippets from './CodeSnippets';
import PageHeader from './PageHeader';
import './PlaygroundPage.css';

/** The Playground: chat with any model of the catalogue (or "auto"), streamed, and see who served it. */
export default function PlaygroundPage({ origin = window.location.origin }: { origin?: string }) {
  const { models, error: modelsError } = useModels();
  const { messages, phase, served, stats, error, lastRequest, send, stop, clear } = useChat();
  const { key } = useApiKey();
  const [model, setModel] = useState('auto');
  const [prompt, setPrompt] = useState('');
  const modelId = useId();
  const promptId = useId();
  const busy = phase !== 'idle';
  const draft = chatRequestBody(model, [...messages, ...(prompt.trim() ? [{ role: 'user' as const, content: prompt.trim() }] : [])]);

  function submit(event: React.SyntheticEvent) {
    event.preventDefault();
    if (busy || !prompt.trim()) return;
    void send(model, prompt.trim());
    setPrompt('');
  }

  return (
    <div className="page playground">
      <PageHeader title="Playground" icon={MessagesSquare} subtitle="Chat through Atmosphere as any OpenAI client would, and see which integration answered." />

      <div className="field">
        <label htmlFor={modelId}>Model</label>
        <select className="input" id={modelId} data-testid="playground-model" value={model} disabled={busy} onChange={(event) => setModel(event.target.value)}>
          <option value="auto">auto (the first ready integration)</option>
          {models.map((m) => (
            <option key={m.id} value={m.id}>
              {m.id}
              {m.owned_by ? ` — ${m.owned_by}` : ''}
            </option>
          ))}
        </select>
        {modelsError ? <p className="playground-error">Could not list the models: {modelsError}</p> : null}
      </div>

      <ol className="stack-list chat-transcript" aria-live="polite" data-testid="chat-transcript">
        {messages.map((message, index) => (
          <li key={index} className={`chat-message ${message.role}`} data-testid="chat-message" data-role={message.role}>
            <span className="chat-role">{message.role === 'user' ? 'You' : 'Assistant'}</span>
            <p>{message.content || (busy && index === messages.length - 1 ? <LoaderCircle size={14} className="spin" aria-label="waiting" /> : null)}</p>
          </li>
        ))}
      </ol>

      {error ? (
        <p className="playground-error" role="alert" data-testid="chat-error">
          {error}
        </p>
      ) : null}

      <ServedInfo served={served} stats={stats} />

      <form className="playground-form" onSubmit={submit}>
        <label htmlFor={promptId} className="sr-only">
          Message
        </label>
        <textarea
          className="input"
          id={promptId}
          data-testid="playground-input"
          rows={3}
          value={prompt}
          placeholder="Ask something…"
          onChange={(event) => setPrompt(event.target.value)}
          onKeyDown={(event) => {
            if (event.key === 'Enter' && (event.metaKey || event.ctrlKey)) submit(event);
          }}
        />
        <div className="playground-actions">
          <button type="button" className="button large outline" onClick={clear} disabled={!messages.length}>
            <Eraser size={15} /> Clear
          </button>
          {busy ? (
            <button type="button" className="button large outline tone-danger" data-testid="playground-stop" onClick={stop}>
              <Square size={15} /> Stop
            </button>
          ) : (
            <button type="submit" className="button large playground-send" data-testid="playground-send" disabled={!prompt.trim()}>
              <Send size={15} /> Send
            </button>
          )}
        </div>
      </form>

      <section className="playground-code" aria-label="The same request in code">
        <h2>{lastRequest && !prompt.trim() ? 'The last request, in code' : 'This request, in code'}</h2>
        <CodeSnippets body={lastRequest && !prompt.trim() ? lastRequest : draft} origin={origin} withKey={key !== null} />
      </section>
    </div>
  );
}
