import { useState } from 'react';
import { Check, Copy } from 'lucide-react';
import type { ChatRequestBody } from '../api/chat';
import { curlSnippet, pythonSnippet } from '../api/snippets';
import './CodeSnippets.css';

/** Copy with the Clipboard API where the page may (secure contexts), else through a selected textarea. */
export async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // fall through to the textarea
  }
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.style.position = 'fixed';
  area.style.opacity = '0';
  document.body.appendChild(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}

export function Snippet({ title, code, name }: { title: string; code: string; name: string }) {
  const [copied, setCopied] = useState<boolean | null>(null);
  return (
    <section className="code-snippet">
      <header>
        <h3>{title}</h3>
        <button type="button" className="button outline" data-testid={`copy-${name}`} onClick={() => void copyText(code).then(setCopied)} aria-label={`Copy the ${title} snippet`}>
          {copied ? <Check size={14} /> : <Copy size={14} />}
          {copied === null ? 'Copy' : copied ? 'Copied' : 'Select and copy'}
        </button>
      </header>
      <pre>
        <code data-testid={`snippet-${name}`}>{code}</code>
      </pre>
    </section>
  );
}

/** The request the Playground sends, as curl and as OpenAI Python SDK code. */
export default function CodeSnippets({ body, origin, withKey }: { body: ChatRequestBody; origin: string; withKey: boolean }) {
  return (
    <div className="code-snippets">
      <Snippet title="curl" name="curl" code={curlSnippet(origin, body, withKey)} />
      <Snippet title="Python (OpenAI SDK)" name="python" code={pythonSnippet(origin, body, withKey)} />
    </div>
  );
}
