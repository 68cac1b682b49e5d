// Replay: the engine over a parsed timeline in virtual time, and the printed forms of its outputs (docs/contract.md §4).
import type { FeedKey, Model } from '../domain/model.ts'
import { PowerMonitor, type PowerAlarm, type UpsReading } from '../rule/power.ts'
import { Engine } from './engine.ts'
import { TimelineError, type Parsed } from './timeline.ts'
import { EngineError, type Output, type Refusal } from './types.ts'

/** A power alarm raised or cleared by the power monitor at t (replay's view of what the daemon journals). */
export type PowerOutput = PowerAlarm & { kind: 'power'; t: number }

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

/**
 * The power monitor over the timeline's UPS records: each record updates that UPS's reading, and every power alarm
 * that changes is output at the record's t, as the daemon raises and clears them.
 */
export function replayPower(model: Model, records: readonly Parsed[], options: ReplayOptions = {}): PowerOutput[] {
	const monitor = new PowerMonitor(model.config)
	const readings = new Map<string, UpsReading>()
	const held = new Map<string, boolean>()
	const out: PowerOutput[] = []
	for (const { obs } of records) {
		if (options.until !== undefined && obs.t > options.until) break
		if (obs.type !== 'ups') continue
		readings.set(obs.ups, {
			power: obs.power,
			commLost: obs.commLost ?? false,
			minutesRemaining: obs.minutesRemaining ?? null,
		})
		for (const a of monitor.update(readings).alarms) {
			if ((held.get(a.id) ?? false) === a.active) continue
			held.set(a.id, a.active)
			out.push({ ...a, kind: 'power', t: obs.t })
		}
	}
	return out
}

/** The engine's outputs and the power monitor's, in time order (the engine's first at the same t). */
export function mergeByTime(engine: readonly Output[], power: readonly PowerOutput[]): (Output | PowerOutput)[] {
	const out: (Output | PowerOutput)[] = []
	let i = 0
	for (const o of engine) {
		while (i < power.length && power[i]!.t < o.t) out.push(power[i++]!)
		out.push(o)
	}
	while (i < power.length) out.push(power[i++]!)
	return out
}

/** The --json line of a power alarm. */
export function powerJsonLine(o: PowerOutput): string {
	return JSON.stringify({
		t: o.t,
		...(o.feed !== undefined ? { feed: o.feed } : {}),
		...(o.device !== undefined ? { device: o.device } : {}),
		alarm: o.code,
		active: o.active,
		message: o.active ? o.message : o.cleared,
	})
}

/** The readable line of a power alarm. */
export function powerTextLine(o: PowerOutput): string {
	return `${String(o.t).padStart(9)}  ${o.feed ?? o.device}  alarm    ${o.code} ${o.active ? `RAISED: ${o.message}` : 'cleared'}`
}

/** A refusal as a record: replay's --json line and the journal's `refusal` payload are the same object. */
export function refusalRecord(o: Refusal): {
	t: number
	feed: FeedKey
	command: string
	path?: string
	operator?: string
	refused: string
	message: string
} {
	return {
		t: o.t,
		feed: o.feed,
		command: o.command,
		...(o.path !== undefined ? { path: o.path } : {}),
		...(o.operator !== undefined ? { operator: o.operator } : {}),
		refused: o.refused,
		message: o.message,
	}
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
			return JSON.stringify(refusalRecord(o))
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
			line = `${head}${o.cause.padEnd(8)} ${o.from ?? 'off-path'} -> ${o.to}${o.operator !== undefined ? ` (by ${o.operator})` : ''}`
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
