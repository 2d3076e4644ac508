/**
 * Ready-made set-up for a new client key, one per client: the key goes where that client
 * reads it (a header, an SDK argument, an environment variable, Codex's provider table).
 */
export interface KeySnippet {
  id: 'curl' | 'openai' | 'anthropic' | 'claude' | 'ollama' | 'codex';
  title: string;
  code: string;
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

function py(text: string): string {
  return JSON.stringify(text); // a JSON string is a valid Python string literal
}

/** `model`: a model the gateway serves (the page passes one from the catalogue). */
export function keySnippets(origin: string, secret: string, model: string): KeySnippet[] {
  const body = JSON.stringify({ model, messages: [{ role: 'user', content: 'Say hi' }] });
  return [
    {
      id: 'curl',
      title: 'curl',
      code: [
        `curl ${origin}/v1/chat/completions`,
        `  -H ${shellQuote(`Authorization: Bearer ${secret}`)}`,
        `  -H 'Content-Type: application/json'`,
        `  -d ${shellQuote(body)}`,
      ].join(' \\\n'),
    },
    {
      id: 'openai',
      title: 'OpenAI SDK (Python)',
      code: [
        'from openai import OpenAI',
        '',
        `client = OpenAI(base_url=${py(`${origin}/v1`)}, api_key=${py(secret)})`,
        `reply = client.chat.completions.create(model=${py(model)}, messages=[{"role": "user", "content": "Say hi"}])`,
        'print(reply.choices[0].message.content)',
      ].join('\n'),
    },
    {
      id: 'anthropic',
      title: 'Anthropic SDK (Python)',
      code: [
        'import anthropic',
        '',
        `client = anthropic.Anthropic(base_url=${py(origin)}, api_key=${py(secret)})  # no /v1 on the base URL`,
        `reply = client.messages.create(model=${py(model)}, max_tokens=256, messages=[{"role": "user", "content": "Say hi"}])`,
        'print(reply.content[0].text)',
      ].join('\n'),
    },
    {
      id: 'claude',
      title: 'Claude Code',
      code: [`export ANTHROPIC_BASE_URL=${origin}`, `export ANTHROPIC_AUTH_TOKEN=${secret}`, `claude --model ${shellQuote(model)}`].join('\n'),
    },
    {
      id: 'ollama',
      title: 'Ollama client (OLLAMA_HOST)',
      code: [
        `export OLLAMA_HOST=${origin}`,
        '',
        '# Python: the ollama client sends the key as a header',
        'import ollama',
        `client = ollama.Client(host=${py(origin)}, headers={"Authorization": ${py(`Bearer ${secret}`)}})`,
        'print([m.model for m in client.list().models])',
      ].join('\n'),
    },
    {
      id: 'codex',
      title: 'Codex (~/.codex/config.toml)',
      code: [
        `model = ${py(model)}`,
        'model_provider = "atmosphere"',
        '',
        '[model_providers.atmosphere]',
        'name = "Atmosphere"',
        `base_url = ${py(`${origin}/v1`)}`,
        'env_key = "ATMOSPHERE_KEY"',
        'wire_api = "responses"',
        '',
        `# then, in the shell that runs codex: export ATMOSPHERE_KEY=${secret}`,
      ].join('\n'),
    },
  ];
}
