import { BookOpen } from 'lucide-react';
import PageHeader from './PageHeader';
import './ApiPage.css';

/** A short "how do I call this" page: the OpenAI-compatible base URL and a few curl commands. */
export default function ApiPage({ origin = window.location.origin }: { origin?: string }) {
  const base = `${origin}/v1`;
  const examples = [
    {
      title: 'Chat completion (OpenAI-compatible)',
      code: `curl ${base}/chat/completions \\
  -H 'Content-Type: application/json' \\
  -d '{"model": "auto", "messages": [{"role": "user", "content": "Say hi"}]}'`,
    },
    {
      title: 'List the integrations Atmosphere found',
      code: `curl ${base}/integrations`,
    },
    {
      title: 'Test one integration',
      code: `curl ${base}/integrations/test \\
  -H 'Content-Type: application/json' \\
  -d '{"integration_id": "ollama", "prompt": "Say hi"}'`,
    },
  ];

  return (
    <div className="page api-page">
      <PageHeader title="API" icon={BookOpen} subtitle="Point any OpenAI client at Atmosphere; it routes to the integrations on the Integrations page." />
      <section className="panel api-page-block" aria-labelledby="api-base-url">
        <h2 id="api-base-url">Base URL</h2>
        <code className="api-page-base" data-testid="api-base-url">
          {base}
        </code>
        <p className="api-page-note">Use a model id shown on the Integrations page as <code>model</code>, or <code>auto</code> for the first healthy integration's default.</p>
      </section>
      {examples.map((example) => (
        <section className="panel api-page-block" key={example.title}>
          <h2>{example.title}</h2>
          <pre className="inset">
            <code>{example.code}</code>
          </pre>
        </section>
      ))}
    </div>
  );
}
