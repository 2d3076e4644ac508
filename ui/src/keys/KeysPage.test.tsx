import { describe, expect, it } from 'vitest';
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import KeysPage from './KeysPage';
import { jsonResponse } from '../test/fixtures';
import { keyAnswer, routeFetch } from '../test/usageFixtures';

const ORIGIN = 'http://127.0.0.1:8000';
const models = { object: 'list', data: [{ id: 'llama3.2:latest', object: 'model', owned_by: 'ollama', created: 0 }] };

function sent(fn: ReturnType<typeof routeFetch>, method: string): unknown {
  const call = fn.mock.calls.find(([, init]) => (init?.method ?? 'GET') === method);
  return call ? JSON.parse(String(call[1]?.body)) : undefined;
}

describe('KeysPage', () => {
  it('lists each key with its prefix, use, expiry, limits, budget and whether it was limited lately; revoked ones last', async () => {
    routeFetch({
      'GET /v1/models': models,
      'GET /v1/keys': {
        data: [
          keyAnswer({ id: 'old', name: 'old-laptop', revoked_at: new Date().toISOString() }),
          keyAnswer({ limited_last_hour: 3 }),
          keyAnswer({ id: 'k2', name: 'rag-indexer', prefix: 'atm_zz99', last_used_at: null, expires_at: '2030-01-31T23:59:59Z', limits: { requests_per_minute: null, tokens_per_minute: 20000, concurrent: null }, monthly_token_budget: null, tokens_this_month: 0, surfaces: ['openai'], models: ['nomic-*'] }),
        ],
      },
    });
    render(<KeysPage origin={ORIGIN} />);
    const cards = await screen.findAllByTestId('key-card');
    expect(cards.map((c) => [c.dataset.name, c.dataset.status])).toEqual([
      ['alice-laptop', 'active'],
      ['rag-indexer', 'active'],
      ['old-laptop', 'revoked'],
    ]);
    const [alice, indexer, old] = cards;
    expect(alice).toHaveTextContent('atm_a1b2…');
    expect(within(alice).getByTestId('key-last-used')).toHaveTextContent('2 min ago');
    expect(within(alice).getByTestId('key-limits')).toHaveTextContent('60 req/min · 2 at once');
    expect(within(alice).getByTestId('key-budget')).toHaveTextContent('12,345 of 1,000,000 tokens this month');
    expect(within(alice).getByTestId('key-limited')).toHaveTextContent('limited 3× in the last hour');
    expect(within(indexer).getByTestId('key-last-used')).toHaveTextContent('never');
    expect(within(indexer).getByTestId('key-limits')).toHaveTextContent('20,000 tokens/min');
    expect(indexer).toHaveTextContent('Surfacesopenai');
    expect(indexer).toHaveTextContent('Modelsnomic-*');
    expect(within(indexer).queryByTestId('key-limited')).not.toBeInTheDocument();
    expect(within(old).queryByTestId('revoke-key')).not.toBeInTheDocument();
  });

  it('creates a key from the form and shows its secret once, with a snippet for each client', async () => {
    const user = userEvent.setup();
    const fetch = routeFetch({
      'GET /v1/models': models,
      'GET /v1/keys': { data: [] },
      'POST /v1/keys': (_url: URL, init: RequestInit) => {
        const body = JSON.parse(String(init.body));
        return jsonResponse({ ...keyAnswer({ id: 'new', name: body.name, prefix: 'atm_s3cr', last_used_at: null, limits: body.limits, monthly_token_budget: body.monthly_token_budget, surfaces: body.surfaces, models: body.models }), secret: 'atm_s3cret-value' }, 201);
      },
    });
    render(<KeysPage origin={ORIGIN} />);
    expect(await screen.findByTestId('keys-empty')).toBeInTheDocument();
    await user.click(screen.getByTestId('new-key-button'));
    const form = screen.getByTestId('new-key-form');
    await user.type(within(form).getByTestId('key-name'), 'claude-code');
    await user.click(within(form).getByTestId('key-surface-ollama'));
    await user.type(within(form).getByTestId('key-models'), 'llama3.2:*, fast');
    await user.type(within(form).getByTestId('key-rpm'), '30');
    await user.type(within(form).getByTestId('key-concurrent'), '2');
    await user.type(within(form).getByTestId('key-budget'), '500000');
    await user.click(within(form).getByTestId('key-submit'));

    expect(sent(fetch, 'POST')).toEqual({
      name: 'claude-code',
      expires_at: null,
      surfaces: ['openai', 'anthropic'],
      models: ['llama3.2:*', 'fast'],
      limits: { requests_per_minute: 30, tokens_per_minute: null, concurrent: 2 },
      monthly_token_budget: 500000,
      log_prompts: false,
    });
    const shown = await screen.findByTestId('new-key');
    expect(within(shown).getByTestId('new-key-secret')).toHaveTextContent('atm_s3cret-value');
    expect(screen.getByTestId('snippet-key-curl')).toHaveTextContent(`curl ${ORIGIN}/v1/chat/completions`);
    expect(screen.getByTestId('snippet-key-curl')).toHaveTextContent("-H 'Authorization: Bearer atm_s3cret-value'");
    expect(screen.getByTestId('snippet-key-openai')).toHaveTextContent(`OpenAI(base_url="${ORIGIN}/v1", api_key="atm_s3cret-value")`);
    expect(screen.getByTestId('snippet-key-anthropic')).toHaveTextContent(`anthropic.Anthropic(base_url="${ORIGIN}", api_key="atm_s3cret-value")`);
    expect(screen.getByTestId('snippet-key-claude')).toHaveTextContent(`export ANTHROPIC_BASE_URL=${ORIGIN} export ANTHROPIC_AUTH_TOKEN=atm_s3cret-value claude --model 'llama3.2:latest'`);
    expect(screen.getByTestId('snippet-key-ollama')).toHaveTextContent(`export OLLAMA_HOST=${ORIGIN}`);
    expect(screen.getByTestId('snippet-key-ollama')).toHaveTextContent('headers={"Authorization": "Bearer atm_s3cret-value"}');
    expect(screen.getByTestId('snippet-key-codex')).toHaveTextContent(`base_url = "${ORIGIN}/v1"`);
    expect(screen.getByTestId('snippet-key-codex')).toHaveTextContent('export ATMOSPHERE_KEY=atm_s3cret-value');
    expect(screen.getByTestId('key-card')).toHaveAttribute('data-name', 'claude-code');

    await user.click(screen.getByTestId('new-key-done'));
    expect(screen.queryByTestId('new-key')).not.toBeInTheDocument();
    expect(document.body).not.toHaveTextContent('atm_s3cret-value'); // gone from the page once dismissed
  });

  it('refuses a form it can tell is wrong, and shows the service message for one it cannot', async () => {
    const user = userEvent.setup();
    const fetch = routeFetch({
      'GET /v1/models': models,
      'GET /v1/keys': { data: [] },
      'POST /v1/keys': () => jsonResponse({ error: { message: "A key named 'dup' already exists", type: 'invalid_request_error', code: 'duplicate_name' } }, 409),
    });
    render(<KeysPage origin={ORIGIN} />);
    await user.click(await screen.findByTestId('new-key-button'));
    await user.click(screen.getByTestId('key-submit'));
    expect(screen.getByTestId('key-form-error')).toHaveTextContent('Give the key a name');
    await user.type(screen.getByTestId('key-name'), 'dup');
    await user.type(screen.getByTestId('key-rpm'), '1.5');
    await user.click(screen.getByTestId('key-submit'));
    expect(screen.getByTestId('key-form-error')).toHaveTextContent('Requests per minute must be a whole number');
    expect(sent(fetch, 'POST')).toBeUndefined();
    await user.clear(screen.getByTestId('key-rpm'));
    await user.click(screen.getByTestId('key-submit'));
    expect(await screen.findByTestId('key-form-error')).toHaveTextContent("A key named 'dup' already exists");
    expect(screen.getByTestId('new-key-form')).toBeInTheDocument(); // what was typed stays to correct
    expect(screen.queryByTestId('new-key')).not.toBeInTheDocument();
  });

  it('edits a key’s limits in place', async () => {
    const user = userEvent.setup();
    const fetch = routeFetch({
      'GET /v1/models': models,
      'GET /v1/keys': { data: [keyAnswer()] },
      'PATCH /v1/keys/k1': (_url: URL, init: RequestInit) => keyAnswer({ limits: JSON.parse(String(init.body)).limits }),
    });
    render(<KeysPage origin={ORIGIN} />);
    await user.click(await screen.findByTestId('edit-key'));
    const form = screen.getByTestId('edit-key-form');
    expect(within(form).getByTestId('key-name')).toHaveValue('alice-laptop');
    expect(within(form).getByTestId('key-rpm')).toHaveValue(60);
    await user.clear(within(form).getByTestId('key-rpm'));
    await user.type(within(form).getByTestId('key-rpm'), '10');
    await user.type(within(form).getByTestId('key-tpm'), '5000');
    await user.click(within(form).getByTestId('key-submit'));
    expect(await screen.findByTestId('key-limits')).toHaveTextContent('10 req/min · 5,000 tokens/min · 2 at once');
    expect(screen.queryByTestId('edit-key-form')).not.toBeInTheDocument();
    expect((sent(fetch, 'PATCH') as { limits: unknown }).limits).toEqual({ requests_per_minute: 10, tokens_per_minute: 5000, concurrent: 2 });
  });

  it('revokes a key only after asking, and shows it revoked', async () => {
    const user = userEvent.setup();
    const fetch = routeFetch({
      'GET /v1/models': models,
      'GET /v1/keys': { data: [keyAnswer()] },
      'DELETE /v1/keys/k1': keyAnswer({ revoked_at: new Date().toISOString() }),
    });
    render(<KeysPage origin={ORIGIN} />);
    await user.click(await screen.findByTestId('revoke-key'));
    expect(screen.getByTestId('revoke-confirm')).toHaveTextContent('Revoke alice-laptop?');
    expect(fetch.mock.calls.some(([, init]) => init?.method === 'DELETE')).toBe(false);
    await user.click(screen.getByText('Keep it'));
    expect(screen.getByTestId('key-card')).toHaveAttribute('data-status', 'active');
    await user.click(screen.getByTestId('revoke-key'));
    await user.click(screen.getByTestId('revoke-confirm-button'));
    expect(await screen.findByTestId('key-status')).toHaveTextContent('revoked');
    expect(screen.getByTestId('key-card')).toHaveAttribute('data-status', 'revoked');
    expect(screen.queryByTestId('revoke-key')).not.toBeInTheDocument();
  });

  it('says so when the gateway has no client keys, and shows a refusal as the service worded it', async () => {
    routeFetch({ 'GET /v1/models': models, 'GET /v1/keys': () => jsonResponse({ error: { message: 'Not found', type: 'invalid_request_error', code: null } }, 404) });
    const { unmount } = render(<KeysPage origin={ORIGIN} />);
    expect(await screen.findByTestId('keys-unavailable')).toBeInTheDocument();
    unmount();
    routeFetch({ 'GET /v1/models': models, 'GET /v1/keys': () => jsonResponse({ error: { message: 'Managing keys needs the admin key', type: 'permission_error', code: 'admin_only' } }, 403) });
    render(<KeysPage origin={ORIGIN} />);
    expect(await screen.findByTestId('api-error')).toHaveTextContent('Could not load the keys: Managing keys needs the admin key');
    expect(screen.queryByTestId('new-key-button')).not.toBeInTheDocument();
  });
});
