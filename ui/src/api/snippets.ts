/** Copyable code for the same request the Playground sent: curl and the OpenAI Python SDK. */
import type { ChatRequestBody } from './chat';

function _shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

export function curlSnippet(origin: string, body: ChatRequestBody, withKey: boolean): string {
  const lines = [`curl -N ${origin}/v1/chat/completions`, `  -H 'Content-Type: application/json'`];
  if (withKey) lines.push(`  -H "Authorization: Bearer $ATMOSPHERE_API_KEY"`);
  lines.push(`  -d ${_shellQuote(JSON.stringify({ model: body.model, messages: body.messages, stream: true }))}`);
  return lines.join(' \\\n');
}

function _pyString(text: string): string {
  return JSON.stringify(text); // a JSON string is a valid Python string literal
}

export function pythonSnippet(origin: string, body: ChatRequestBody, withKey: boolean): string {
  const messages = body.messages.map((m) => `        {"role": ${_pyString(m.role)}, "content": ${_pyString(m.content)}},`).join('\n');
  const key = withKey ? 'os.environ["ATMOSPHERE_API_KEY"]' : '"unused"'; // the SDK needs some key; the gateway needs none here
  return [
    ...(withKey ? ['import os', ''] : []),
    'from openai import OpenAI',
    '',
    `client = OpenAI(base_url=${_pyString(`${origin}/v1`)}, api_key=${key})`,
    'stream = client.chat.completions.create(',
    `    model=${_pyString(body.model)},`,
    '    messages=[',
    messages,
    '    ],',
    '    stream=True,',
    ')',
    'for chunk in stream:',
    '    if chunk.choices:',
    '        print(chunk.choices[0].delta.content or "", end="", flush=True)',
    'print()',
  ].join('\n');
}
