import { describe, expect, it } from 'vitest';
import { groupByKind, moveWithinKind } from './order';
import { llamafarm, ollama } from '../test/fixtures';

const fleet = [
  ollama({ id: 'ollama', priority: 2 }),
  llamafarm({ id: 'llamafarm', priority: 0 }),
  ollama({ id: 'ollama-gpu', priority: 3 }),
  llamafarm({ id: 'lf-2', priority: 1 }),
];

describe('integration order', () => {
  it('groups by kind in priority order', () => {
    expect(groupByKind(fleet).map((g) => [g.kind, g.integrations.map((i) => i.id)])).toEqual([
      ['llamafarm', ['llamafarm', 'lf-2']],
      ['ollama', ['ollama', 'ollama-gpu']],
    ]);
  });

  it('moves a host past the next one of its kind, keeping the others where they are', () => {
    expect(moveWithinKind(fleet, 'ollama-gpu', -1)).toEqual(['llamafarm', 'lf-2', 'ollama-gpu', 'ollama']);
    expect(moveWithinKind(fleet, 'llamafarm', 1)).toEqual(['lf-2', 'llamafarm', 'ollama', 'ollama-gpu']);
    expect(moveWithinKind(fleet, 'ollama', -1)).toBeNull(); // first of its kind
    expect(moveWithinKind(fleet, 'nope', 1)).toBeNull();
  });
});
