// The metrics reference of docs/operating-the-gateway.md, read from the prom-client registry a real host fills.
import type { Registry } from 'prom-client';
import { durationBuckets } from '../observe/metrics.js';
import { blocks, code, table, text } from './markdown.js';

export async function metricsReference(registry: Registry): Promise<string> {
  const rows: string[][] = [];
  for (const metric of await registry.getMetricsAsJSON()) {
    const labels = (registry.getSingleMetric(metric.name) as { labelNames?: readonly string[] } | undefined)
      ?.labelNames;
    const names = [...(labels ?? [])];
    if (String(metric.type) === 'histogram') names.push(`le (on ${code('_bucket')})`);
    rows.push([code(metric.name), String(metric.type), names.join(', ') || '—', text(metric.help)]);
  }
  return blocks(
    table(['metric', 'type', 'labels', 'help'], rows),
    `Buckets of ${code('plugbay_call_duration_seconds')} (seconds): ${durationBuckets.join(', ')}, +Inf.`,
  );
}
