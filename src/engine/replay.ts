// Replay: the engine over a parsed timeline in virtual time, and the printed forms of its outputs (contract §4).
import type { FeedKey, Model } from '../domain/model.ts'
import { Engine } from './engine.ts'
import { TimelineError, type Parsed } from './timeline.ts'
import { EngineError, type Output } from './types.ts'

export interface ReplayOptions {
	/** run until this t (default: the last record's t) */
	until?: number
}

/**
 * Runs the timeline through a fresh engine: feeds with a start record wait for it, the others start at t=0 on their
 * primary. Records after `until` are not applied; timers are run up to `until` (or the last record's t).
 */
export function replay(model: Model, records: readonly Parsed[], options: ReplayOptions = {}): Output[] {
	const pending = new Set<FeedKey>()
	for (const r of records) if (r.obs.type === 'start') pending.add(r.obs.feed)
	const engine = new Engine(model, { pending })
	const out: Output[] = []
	let end = 0
	for (const r of records) {
		if (options.until !== undefined && r.obs.t > options.until) break
		try {
			for (const o of engine.apply(r.obs)) out.push(o)
		} catch (err) {
			if (err instanceof EngineError) throw new TimelineError(r.line, err.message)
			throw err
		}
		end = r.obs.t
	}
	for (const o of engine.advance(options.until ?? end)) out.push(o)
	return out
}

/** The --json line of an output, or undefined for outputs that only the verbose form shows. */
export function jsonLine(o: Output, verbose = false): string | undefined {
	const extra = verbose && 'explain' in o ? { explain: o.explain } : {}
	switch (o.kind) {
		case 'decision':
			return JSON.stringify({ t: o.t, feed: o.feed, from: o.from, to: o.to, cause: o.cause, ...extra })
		case 'alarm':
			return JSON.stringify({
				t: o.t,
				feed: o.feed,
				alarm: o.alarm,
				active: o.active,
				path: o.path,
				message: o.message,
				...extra,
			})
		case 'refusal':
			return JSON.stringify({
				t: o.t,
				feed: o.feed,
				command: o.command,
				...(o.path !== undefined ? { path: o.path } : {}),
				...(o.operator !== undefined ? { operator: o.operator } : {}),
				refused: o.refused,
				message: o.message,
			})
		case 'suppressed':
			return verbose
				? JSON.stringify({
						t: o.t,
						feed: o.feed,
						suppressed: { from: o.from, to: o.to, cause: o.cause },
						because: o.because,
						...extra,
					})
				: undefined
		case 'accepted':
			return verbose
				? JSON.stringify({
						t: o.t,
						feed: o.feed,
						accepted: o.command,
						...(o.path !== undefined ? { path: o.path } : {}),
						...(o.operator !== undefined ? { operator: o.operator } : {}),
						mode: o.mode,
						locked: o.locked,
					})
				: undefined
	}
}

/** The readable line of an output. */
export function textLine(o: Output, verbose = false): string | undefined {
	const head = `${String(o.t).padStart(9)}  ${o.feed}  `
	let line: string | undefined
	switch (o.kind) {
		case 'decision':
			line = `${head}${o.cause.padEnd(8)} ${o.from} -> ${o.to}${o.operator !== undefined ? ` (by ${o.operator})` : ''}`
			break
		case 'alarm':
			line = `${head}alarm    ${o.alarm} ${o.active ? 'RAISED' : 'cleared'}${o.active ? `: ${o.message}` : ''}`
			break
		case 'refusal':
			line = `${head}refused  ${o.command}${o.path !== undefined ? ` ${o.path}` : ''}${o.operator !== undefined ? ` by ${o.operator}` : ''}: ${o.message}`
			break
		case 'suppressed':
			line = verbose ? `${head}held     would ${o.cause} ${o.from} -> ${o.to} (feed is ${o.because})` : undefined
			break
		case 'accepted':
			line = verbose
				? `${head}command  ${o.command}${o.path !== undefined ? ` ${o.path}` : ''}${o.operator !== undefined ? ` by ${o.operator}` : ''}: now ${o.mode}${o.locked ? ', locked' : ''}`
				: undefined
			break
	}
	if (line === undefined) return undefined
	if (verbose && 'explain' in o)
		line += `\n${[...o.explain.triggers.map((x) => `             after ${x}`), ...o.explain.because.map((x) => `             because ${x}`)].join('\n')}`
	return line
}
