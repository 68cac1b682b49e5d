// The FACS report (docs/contract.md §10): what the tour found per path, as JSON (the CLI's --json, the HTTP answer,
// the MQTT retained result, the journal's end record) and as a table an operator reads and keeps.
import type { SrtFigures } from './measure.ts'

export interface PathReport {
	path: string
	rank: number
	method: string
	input: { router: string; input: number }
	/** the QC take of the path's input, confirmed on the router's tally */
	take: { ok: boolean; ms?: number; error?: string }
	/** the worst signal seen during the dwell (null: none reported) and the path's class at its end */
	signal: 'up' | 'degraded' | 'down' | null
	class: string
	/** the path's SRT receiver over the dwell; null when the path has none (or it had no connection) */
	srt: SrtFigures | null
	/** the device whose relayed TS was analysed for delay and A/V offset, or null */
	analysed: string | null
	/** delay to the primary by PTS, ms: positive = later than the primary; null with why */
	delayMs: number | null
	delayWhy?: string
	/** with avSync: the flash-and-beep pattern's A/V offset, ms: positive = sound late; null with why */
	avOffsetMs?: number | null
	avWhy?: string
	pass: boolean
	/** why the path fails; notes that do not fail it */
	failures: string[]
	notes: string[]
}

export interface FeedReport {
	feed: string
	qcOutput: { router: string; output: number }
	dwellMs: number
	avSync: boolean
	maxAvOffsetMs: number
	maxDelayMs: number | null
	paths: PathReport[]
	/** the QC output put back to the input it showed before the tour */
	restored: { ok: boolean; input: number | null; error?: string }
	pass: boolean
}

export interface FacsReport {
	event: string
	operator: string
	via: string
	startedAt: string
	endedAt: string
	durationMs: number
	feeds: FeedReport[]
	/** feeds of the event with no QC output (or no path) */
	skipped: { feed: string; why: string }[]
	pass: boolean
	/** `event/feed/path: why`, one per failing path or restore */
	failed: string[]
}

const cell = (v: string | number | null | undefined): string => (v === null || v === undefined ? '-' : String(v))

/** The report as the lines an operator reads. */
export function reportTable(r: FacsReport): string {
	const out: string[] = []
	out.push(
		`FACS ${r.event}: ${r.pass ? 'PASS' : 'FAIL'}  (${r.startedAt} to ${r.endedAt}, ${(r.durationMs / 1000).toFixed(1)} s, by ${r.operator} via ${r.via})`,
	)
	for (const f of r.feeds) {
		out.push('')
		const limits = [
			`dwell ${f.dwellMs} ms`,
			f.maxDelayMs !== null ? `max delay ${f.maxDelayMs} ms` : 'delay not judged',
			f.avSync ? `max A/V ${f.maxAvOffsetMs} ms` : 'no A/V test',
		]
		out.push(
			`${r.event}/${f.feed} on ${f.qcOutput.router} output ${f.qcOutput.output} (${limits.join(', ')}): ${f.pass ? 'PASS' : 'FAIL'}`,
		)
		const head = ['#', 'path', 'method', 'input', 'take', 'signal', 'class', 'rtt ms', 'loss', 'Mb/s', 'cc err']
		head.push('delay ms', ...(f.avSync ? ['A/V ms'] : []), 'result')
		const rows = f.paths.map((p) => [
			String(p.rank),
			p.path,
			p.method,
			String(p.input.input),
			p.take.ok ? 'ok' : 'FAILED',
			cell(p.signal),
			p.class,
			cell(p.srt?.rttMs),
			p.srt ? `${(p.srt.lossRate * 100).toFixed(2)}%` : '-',
			cell(p.srt?.mbps),
			cell(p.srt?.ccErrors),
			cell(p.delayMs),
			...(f.avSync ? [cell(p.avOffsetMs)] : []),
			p.pass ? 'pass' : 'FAIL',
		])
		const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)))
		const line = (cols: string[]) =>
			cols
				.map((c, i) => c.padEnd(widths[i]!))
				.join('  ')
				.trimEnd()
		out.push(line(head), ...rows.map(line))
		for (const p of f.paths) {
			for (const w of p.failures) out.push(`  ${p.path}: FAIL: ${w}`)
			const notes = [...p.notes]
			if (p.delayWhy) notes.push(`delay: ${p.delayWhy}`)
			if (p.avWhy) notes.push(`A/V: ${p.avWhy}`)
			for (const n of notes) out.push(`  ${p.path}: ${n}`)
		}
		out.push(
			f.restored.ok
				? `  QC output put back to input ${f.restored.input}`
				: `  QC output NOT put back${f.restored.input !== null ? ` to input ${f.restored.input}` : ''}: ${f.restored.error ?? ''}`,
		)
	}
	for (const s of r.skipped) out.push(`${r.event}/${s.feed}: skipped: ${s.why}`)
	out.push('', 'delay: by PTS, positive = later than the primary; A/V: flash-and-beep pattern, positive = sound late')
	return `${out.join('\n')}\n`
}
