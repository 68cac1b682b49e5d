// Shared by the benchmarks in test/bench: percentiles, the machine, and a table printer.
import { cpus, loadavg, totalmem } from 'node:os'

export function percentile(sorted: readonly number[], p: number): number {
	if (sorted.length === 0) return NaN
	return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

export function machine(): string {
	const c = cpus()
	return `${c.length} × ${c[0]?.model ?? 'unknown cpu'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, node ${process.version}, load average ${loadavg()
		.map((l) => l.toFixed(2))
		.join(' ')}`
}

export function table(head: string[], rows: (string | number)[][]): string {
	const cells = [head, ...rows.map((r) => r.map(String))]
	const w = head.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)))
	const line = (r: string[]) => `| ${r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join(' | ')} |`
	return [line(head), `|${w.map((x) => '-'.repeat(x + 2)).join('|')}|`, ...cells.slice(1).map(line)].join('\n')
}

export const us = (ns: number): string => (ns / 1000).toFixed(1)
