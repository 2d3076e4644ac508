/** Small, pure formatting helpers shared by the components. */
import type { Model } from './api/types';

export function formatLatency(ms: number | null | undefined): string | null {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return null;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
}

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];

export function formatBytes(bytes: number | null | undefined): string | null {
  if (typeof bytes !== 'number' || !Number.isFinite(bytes) || bytes < 0) return null;
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${UNITS[unit]}`;
}

/** 0.034 -> "3.4%". */
export function formatPercent(fraction: number | null | undefined): string | null {
  if (typeof fraction !== 'number' || !Number.isFinite(fraction)) return null;
  const pct = fraction * 100;
  return `${pct >= 10 || pct === 0 ? Math.round(pct) : pct.toFixed(1)}%`;
}

/** Unix seconds -> Date, or null. */
export function toDate(unixSeconds: number | null | undefined): Date | null {
  if (typeof unixSeconds !== 'number' || !Number.isFinite(unixSeconds)) return null;
  return new Date(unixSeconds * 1000);
}

/** "just now", "12 s ago", "3 min ago" ... for past dates; "in 12 s" for future ones. */
export function formatRelative(date: Date | null, now: number = Date.now()): string | null {
  if (!date) return null;
  const delta = Math.round((now - date.getTime()) / 1000);
  const future = delta < 0;
  const seconds = Math.abs(delta);
  let span: string;
  if (seconds < 5) return future ? 'in a moment' : 'just now';
  if (seconds < 60) span = `${seconds} s`;
  else if (seconds < 3600) span = `${Math.floor(seconds / 60)} min`;
  else if (seconds < 86400) span = `${Math.floor(seconds / 3600)} h`;
  else return date.toLocaleString();
  return future ? `in ${span}` : `${span} ago`;
}

/** "30 seconds", "1 minute", "2 minutes" for a duration in ms. */
export function formatInterval(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60 || seconds % 60 !== 0) return `${seconds} ${seconds === 1 ? 'second' : 'seconds'}`;
  const minutes = seconds / 60;
  return `${minutes} ${minutes === 1 ? 'minute' : 'minutes'}`;
}

/** One line describing a model's details, e.g. "3.2B · Q4_K_M · 2.0 GB". */
export function modelDetailParts(model: Model): string[] {
  const parts: string[] = [];
  if (model.parameter_size) parts.push(model.parameter_size);
  if (model.quantization) parts.push(model.quantization);
  const size = formatBytes(model.size);
  if (size) parts.push(size);
  return parts;
}

/** Tooltip text for a model tag: everything the API told us about it. */
export function modelTitle(model: Model): string {
  const lines = [model.name];
  if (model.family) lines.push(`Family: ${model.family}`);
  if (model.parameter_size) lines.push(`Parameters: ${model.parameter_size}`);
  if (model.quantization) lines.push(`Quantization: ${model.quantization}`);
  const size = formatBytes(model.size);
  if (size) lines.push(`Size: ${size}`);
  if (model.project) lines.push(`Project: ${model.project}`);
  if (model.provider) lines.push(`Provider: ${model.provider}`);
  if (model.locality) lines.push(`Runs: ${model.locality}`);
  if (model.ready === false) lines.push(`Unavailable${model.unavailable_reason ? `: ${model.unavailable_reason}` : ''}`);
  if (model.capabilities.length) lines.push(`Capabilities: ${model.capabilities.join(', ')}`);
  return lines.join('\n');
}

/** A User-Agent's product and version, its first word (`claude-cli/2.1.197`, `codex_exec/0.171.0`):
 * enough to tell the tools apart in a row; the whole string is in its title and the detail. */
export function agentName(agent: string): string {
  return agent.trim().split(/\s+/, 1)[0] || agent;
}
