/** Small, pure formatting helpers shared by the components. */

export function formatLatency(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return null;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
}

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];

export function formatBytes(bytes) {
  if (typeof bytes !== 'number' || !Number.isFinite(bytes) || bytes < 0) return null;
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${UNITS[unit]}`;
}

/** Unix seconds -> Date, or null. */
export function toDate(unixSeconds) {
  if (typeof unixSeconds !== 'number' || !Number.isFinite(unixSeconds)) return null;
  return new Date(unixSeconds * 1000);
}

export function formatRelative(date, now = Date.now()) {
  if (!date) return null;
  const seconds = Math.round((now - date.getTime()) / 1000);
  if (seconds < 5) return 'just now';
  if (seconds < 60) return `${seconds} s ago`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  return date.toLocaleString();
}

/** One line describing a model's details, e.g. "3.2B · Q4_K_M · 2.0 GB". */
export function modelDetailParts(model) {
  const parts = [];
  if (model.parameter_size) parts.push(model.parameter_size);
  if (model.quantization) parts.push(model.quantization);
  const size = formatBytes(model.size);
  if (size) parts.push(size);
  return parts;
}

/** Tooltip text for a model tag: everything the API told us about it. */
export function modelTitle(model) {
  const lines = [model.name || model.id];
  if (model.family) lines.push(`Family: ${model.family}`);
  if (model.parameter_size) lines.push(`Parameters: ${model.parameter_size}`);
  if (model.quantization) lines.push(`Quantization: ${model.quantization}`);
  const size = formatBytes(model.size);
  if (size) lines.push(`Size: ${size}`);
  if (model.project) lines.push(`Project: ${model.project}`);
  if (Array.isArray(model.capabilities) && model.capabilities.length) {
    lines.push(`Capabilities: ${model.capabilities.join(', ')}`);
  }
  return lines.join('\n');
}
