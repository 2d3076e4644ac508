import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { act, render, screen } from '@testing-library/react';
import type { ComponentType } from 'react';
import App from '../App';
import KeysPage from '../keys/KeysPage';
import UsagePage from '../usage/UsagePage';
import RequestsPage from './RequestsPage';
import { MockWebSocket, jsonResponse } from '../test/fixtures';
import { routeFetch } from '../test/usageFixtures';

const notFound = () => jsonResponse({ error: { message: 'Not found', type: 'invalid_request_error', param: null, code: null } }, 404);
const broken = () => jsonResponse({ error: { message: 'database is locked', type: 'server_error', param: null, code: null } }, 500);

// Each page with the endpoint it reads, the note's name and what it says is missing or failed.
const PAGES: [string, ComponentType, string, string, string][] = [
  ['Requests', RequestsPage, 'GET /v1/requests', 'requests', 'Could not load the request log: database is locked'],
  ['Keys', KeysPage, 'GET /v1/keys', 'keys', 'Could not load the keys: database is locked'],
  ['Usage', UsagePage, 'GET /v1/usage', 'usage', 'Could not load usage: database is locked'],
];

describe('the page frame', () => {
  beforeEach(() => {
    MockWebSocket.install();
    vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockReturnValue(null); // jsdom draws no charts
  });

  afterEach(() => {
    window.location.hash = '';
  });

  it('gives every page its title as the one level-1 heading, whichever tab is open', async () => {
    routeFetch({ 'GET /v1/integrations': { integrations: [], timestamp: 0 } });
    render(<App />);
    for (const [route, title] of [
      ['integrations', 'Integrations'],
      ['requests', 'Requests'],
      ['usage', 'Usage'],
      ['keys', 'Keys'],
      ['playground', 'Playground'],
      ['api', 'API'],
    ]) {
      await act(async () => {
        window.location.hash = `#/${route}`;
        window.dispatchEvent(new HashChangeEvent('hashchange'));
      });
      expect(await screen.findByRole('heading', { level: 1, name: title })).toBeInTheDocument();
      expect(screen.getAllByRole('heading', { level: 1 })).toHaveLength(1);
    }
  });

  it.each(PAGES)('the %s page says the gateway has no such endpoint when it answers 404', async (_title, Page, route, name) => {
    routeFetch({ [route]: notFound });
    render(<Page />);
    const note = await screen.findByTestId(`${name}-unavailable`);
    expect(note).toHaveTextContent(`(its API has no /v1/${name}).`);
    expect(screen.queryByTestId('api-error')).not.toBeInTheDocument();
  });

  it.each(PAGES)('the %s page says what it could not load, with the service’s reason', async (_title, Page, route, name, message) => {
    routeFetch({ [route]: broken });
    render(<Page />);
    const alert = await screen.findByTestId('api-error');
    expect(alert).toHaveAttribute('role', 'alert');
    expect(alert).toHaveTextContent(message);
    expect(screen.queryByTestId(`${name}-unavailable`)).not.toBeInTheDocument();
  });
});
