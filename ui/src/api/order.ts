/** Pure helpers for showing integrations in priority order, grouped by kind, and moving one. */
import type { Integration } from './types';

/** Priority order (lower first); the service's own order where it gives no priority. */
export function byPriority(list: Integration[]): Integration[] {
  return list
    .map((item, index) => ({ item, index }))
    .sort((a, b) => (a.item.priority ?? a.index) - (b.item.priority ?? b.index) || a.index - b.index)
    .map(({ item }) => item);
}

export interface KindGroup {
  kind: string;
  integrations: Integration[];
}

/** Groups of one kind each, in priority order; a group comes where its first member does. */
export function groupByKind(list: Integration[]): KindGroup[] {
  const groups = new Map<string, Integration[]>();
  for (const item of byPriority(list)) {
    const members = groups.get(item.type);
    if (members) members.push(item);
    else groups.set(item.type, [item]);
  }
  return [...groups].map(([kind, integrations]) => ({ kind, integrations }));
}

/**
 * The ids in priority order after moving `id` one place up (-1) or down (+1)
 * among the integrations of its own kind; null when it cannot move that way.
 */
export function moveWithinKind(list: Integration[], id: string, delta: -1 | 1): string[] | null {
  const ordered = byPriority(list);
  const index = ordered.findIndex((item) => item.id === id);
  if (index === -1) return null;
  const kind = ordered[index].type;
  let other = index + delta;
  while (other >= 0 && other < ordered.length && ordered[other].type !== kind) other += delta;
  if (other < 0 || other >= ordered.length) return null;
  const ids = ordered.map((item) => item.id);
  [ids[index], ids[other]] = [ids[other], ids[index]];
  return ids;
}

const KIND_LABELS: Record<string, string> = { llamafarm: 'LlamaFarm', ollama: 'Ollama' };

export function kindLabel(kind: string): string {
  return KIND_LABELS[kind] ?? (kind || 'Other');
}
