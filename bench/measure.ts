// Small measuring helpers the benchmarks share: rounding, percentiles, and a process's RSS and
// CPU time read from /proc.
import { readFileSync } from 'node:fs';

export function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** The q-quantile (0..1) of samples, nearest rank. */
export function quantile(samples: number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!;
}

/** Count, p50, p99, min and max of samples (milliseconds, say), rounded to 3 digits. */
export function summary(samples: number[]): { n: number; p50: number; p99: number; max: number; min: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!, 3);
  return { n: sorted.length, p50: at(0.5), p99: at(0.99), max: round(sorted.at(-1)!, 3), min: round(sorted[0]!, 3) };
}

/** Resident set size of `pid` in MiB; -1 when it cannot be read. */
export function rssMiB(pid: number, digits = 2): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? round(Number(match[1]) / 1024, digits) : -1;
  } catch {
    return -1;
  }
}

/** User + system CPU seconds `pid` has used so far; 0 when it is gone. */
export function cpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

export function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}
