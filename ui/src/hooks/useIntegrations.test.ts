import { describe, expect, it } from 'vitest';
import { ollama } from '../test/fixtures';
import { upsertIntegration } from './useIntegrations';

describe('upsertIntegration', () => {
  it('adds a card it does not hold and replaces one from the same or an earlier probe', () => {
    const first = ollama({ last_checked: 100, status: 'healthy' });
    expect(upsertIntegration([], first)).toEqual([first]);
    const disabled = ollama({ last_checked: 100, enabled: false });
    expect(upsertIntegration([first], disabled)).toEqual([disabled]);
    const later = ollama({ last_checked: 101, status: 'offline' });
    expect(upsertIntegration([first], later)).toEqual([later]);
  });

  it("keeps a probed card when an action's answer from before that probe arrives after it", () => {
    const probed = ollama({ last_checked: 100, status: 'healthy' });
    expect(upsertIntegration([probed], ollama({ last_checked: null, status: 'offline' }))).toEqual([probed]);
    expect(upsertIntegration([probed], ollama({ last_checked: 99, status: 'offline' }))).toEqual([probed]);
  });
});
