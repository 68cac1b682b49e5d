// The timeline format of docs/contract.md §4 (JSON lines), validated with zod, to and from the engine's observations.
// Our extension: a signal or device record may carry "at" (integer ms, <= t), the instant its condition began.
import { z } from 'zod'
import type { FeedKey, Model } from '../domain/model.ts'
import type { Observation } from './types.ts'

const T = z.number().int('must be an integer number of ms').min(0, 'must be >= 0')
const FeedId = z.string().regex(/^[^/]+\/[^/]+$/, 'must be "event/feed"')
const Report = z.enum(['up', 'down', 'degraded', 'unknown'])

export const StartRecord = z.strictObject({
	t: T,
	feed: FeedId,
	/** null: the router shows an input that is none of the feed's paths (off-path) */
	active: z.string().min(1).nullable(),
	mode: z.enum(['auto', 'manual']).optional(),
	locked: z.boolean().optional(),
})
export const SignalRecord = z.strictObject({
	t: T,
	path: z.string().regex(/^[^/]+\/[^/]+\/[^/]+$/, 'must be "event/feed/path"'),
	signal: Report,
	at: T.optional(),
})
export const DeviceRecord = z.strictObject({ t: T, device: z.string().min(1), state: Report, at: T.optional() })
export const CommandRecord = z.strictObject({
	t: T,
	feed: FeedId,
	command: z.enum(['take', 'auto', 'manual', 'lock', 'unlock']),
	path: z.string().min(1).optional(),
	force: z.boolean().optional(),
	operator: z.string().min(1).max(200).optional(),
})
/** the router's report about one of its inputs (§4a): counts for every path landing on it */
export const InputRecord = z.strictObject({
	t: T,
	router: z.string().min(1),
	input: z.number().int().min(1),
	state: Report,
	at: T.optional(),
})
/** a crosspoint change on the feed's output that sigpath did not command (§4a); null: off-path */
export const ExternalRecord = z.strictObject({
	t: T,
	feed: FeedId,
	external: z.string().min(1).nullable(),
	input: z.number().int().min(1).optional(),
})
/** a pair's standby following the active node, or a new active taking over (§9): path on air, mode and lock kept */
export const FollowRecord = z.strictObject({
	t: T,
	feed: FeedId,
	follow: z.string().min(1).nullable(),
	mode: z.enum(['auto', 'manual']).optional(),
	locked: z.boolean().optional(),
})
/** a UPS reading (our extension): replay gives it to the power monitor */
export const UpsRecord = z.strictObject({
	t: T,
	ups: z.string().min(1),
	power: z.enum(['online', 'on-battery', 'low-battery', 'bypass', 'off']).nullable(),
	commLost: z.boolean().optional(),
	minutesRemaining: z.number().min(0).nullable().optional(),
})
export type TimelineRecord =
	| z.infer<typeof StartRecord>
	| z.infer<typeof SignalRecord>
	| z.infer<typeof DeviceRecord>
	| z.infer<typeof CommandRecord>
	| z.infer<typeof UpsRecord>
	| z.infer<typeof ExternalRecord>
	| z.infer<typeof FollowRecord>
	| z.infer<typeof InputRecord>

export class TimelineError extends Error {
	override name = 'TimelineError'
	constructor(
		readonly line: number,
		readonly problem: string,
		readonly file = 'timeline',
	) {
		super(`${file}:${line}: ${problem}`)
	}
}

export interface Parsed {
	obs: Observation
	line: number
}

/** Recognises the kind of a record by its keys, then validates it strictly. Returns the observation or a problem. */
export function parseRecord(value: unknown): Observation | string {
	if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'a record must be a JSON object'
	const keys = new Set(Object.keys(value))
	const schema = keys.has('command')
		? CommandRecord
		: keys.has('ups')
			? UpsRecord
			: keys.has('external')
				? ExternalRecord
				: keys.has('follow')
					? FollowRecord
					: keys.has('router')
						? InputRecord
						: keys.has('signal') || keys.has('path')
							? SignalRecord
							: keys.has('device') || keys.has('state')
								? DeviceRecord
								: keys.has('feed') || keys.has('active')
									? StartRecord
									: undefined
	if (!schema)
		return 'not a timeline record: expected a start ("feed","active"), path ("path","signal"), device ("device","state"), router input ("router","input","state"), command ("feed","command"), external ("feed","external"), follow ("feed","follow") or UPS ("ups","power") record'
	const r = schema.safeParse(value)
	if (!r.success) {
		const issue = r.error.issues[0]!
		const where = issue.path.length > 0 ? `"${issue.path.map(String).join('.')}": ` : ''
		return `${where}${issue.message}`
	}
	return toObservation(r.data)
}

export function toObservation(r: TimelineRecord): Observation {
	if ('command' in r) {
		const o: Observation = { type: 'command', t: r.t, feed: r.feed as FeedKey, command: r.command }
		if (r.path !== undefined) o.path = r.path
		if (r.force !== undefined) o.force = r.force
		if (r.operator !== undefined) o.operator = r.operator
		return o
	}
	if ('router' in r) {
		const o: Observation = { type: 'input', t: r.t, router: r.router, input: r.input, state: r.state }
		if (r.at !== undefined) o.at = r.at
		return o
	}
	if ('external' in r) {
		const o: Observation = { type: 'external', t: r.t, feed: r.feed as FeedKey, path: r.external }
		if (r.input !== undefined) o.input = r.input
		return o
	}
	if ('follow' in r) {
		const o: Observation = { type: 'follow', t: r.t, feed: r.feed as FeedKey, active: r.follow }
		if (r.mode !== undefined) o.mode = r.mode
		if (r.locked !== undefined) o.locked = r.locked
		return o
	}
	if ('ups' in r) {
		const o: Observation = { type: 'ups', t: r.t, ups: r.ups, power: r.power }
		if (r.commLost !== undefined) o.commLost = r.commLost
		if (r.minutesRemaining !== undefined) o.minutesRemaining = r.minutesRemaining
		return o
	}
	if ('signal' in r) {
		const i = r.path.lastIndexOf('/')
		const o: Observation = {
			type: 'signal',
			t: r.t,
			feed: r.path.slice(0, i) as FeedKey,
			path: r.path.slice(i + 1),
			signal: r.signal,
		}
		if (r.at !== undefined) o.at = r.at
		return o
	}
	if ('device' in r) {
		const o: Observation = { type: 'device', t: r.t, device: r.device, state: r.state }
		if (r.at !== undefined) o.at = r.at
		return o
	}
	const o: Observation = { type: 'start', t: r.t, feed: r.feed as FeedKey, active: r.active }
	if (r.mode !== undefined) o.mode = r.mode
	if (r.locked !== undefined) o.locked = r.locked
	return o
}

/** The timeline line of an observation (what the journal keeps, and what `journal timeline` prints). */
export function toRecord(o: Observation): TimelineRecord {
	switch (o.type) {
		case 'start':
			return {
				t: o.t,
				feed: o.feed,
				active: o.active,
				...(o.mode !== undefined ? { mode: o.mode } : {}),
				...(o.locked !== undefined ? { locked: o.locked } : {}),
			}
		case 'signal':
			return { t: o.t, path: `${o.feed}/${o.path}`, signal: o.signal, ...(o.at !== undefined ? { at: o.at } : {}) }
		case 'device':
			return { t: o.t, device: o.device, state: o.state, ...(o.at !== undefined ? { at: o.at } : {}) }
		case 'command':
			return {
				t: o.t,
				feed: o.feed,
				command: o.command,
				...(o.path !== undefined ? { path: o.path } : {}),
				...(o.force !== undefined ? { force: o.force } : {}),
				...(o.operator !== undefined ? { operator: o.operator } : {}),
			}
		case 'input':
			return {
				t: o.t,
				router: o.router,
				input: o.input,
				state: o.state,
				...(o.at !== undefined ? { at: o.at } : {}),
			}
		case 'external':
			return { t: o.t, feed: o.feed, external: o.path, ...(o.input !== undefined ? { input: o.input } : {}) }
		case 'follow':
			return {
				t: o.t,
				feed: o.feed,
				follow: o.active,
				...(o.mode !== undefined ? { mode: o.mode } : {}),
				...(o.locked !== undefined ? { locked: o.locked } : {}),
			}
		case 'ups':
			return {
				t: o.t,
				ups: o.ups,
				power: o.power,
				...(o.commLost !== undefined ? { commLost: o.commLost } : {}),
				...(o.minutesRemaining !== undefined ? { minutesRemaining: o.minutesRemaining } : {}),
			}
	}
}

/** Checks an observation against the model; returns the problem or undefined. */
export function checkAgainstModel(o: Observation, model: Model): string | undefined {
	if ('at' in o && o.at !== undefined && o.at > o.t) return `"at" (${o.at}) is after "t" (${o.t})`
	if (o.type === 'device') return model.devices.has(o.device) ? undefined : `unknown device "${o.device}"`
	if (o.type === 'input')
		return model.devices.get(o.router)?.role === 'router' ? undefined : `unknown router "${o.router}"`
	if (o.type === 'ups')
		return model.devices.get(o.ups)?.role === 'ups' ? undefined : `unknown UPS "${o.ups}" (no device of role ups)`
	const feed = model.feeds.get(o.feed)
	if (!feed) return `unknown feed "${o.feed}"`
	if (feed.ranked.length === 0) return `feed ${o.feed} has no paths: there is nothing to switch`
	const hasPath = (id: string) => feed.ranked.some((p) => p.id === id)
	if (o.type === 'signal' && !hasPath(o.path)) return `unknown path "${o.path}" in feed ${o.feed}`
	if (o.type === 'start' && o.active !== null && !hasPath(o.active))
		return `unknown path "${o.active}" in feed ${o.feed}`
	if (o.type === 'external' && o.path !== null && !hasPath(o.path)) return `unknown path "${o.path}" in feed ${o.feed}`
	if (o.type === 'follow' && o.active !== null && !hasPath(o.active))
		return `unknown path "${o.active}" in feed ${o.feed}`
	if (o.type === 'command') {
		if (o.command === 'take' && o.path === undefined) return `a take needs "path"`
		if (o.command !== 'take' && (o.path !== undefined || o.force !== undefined))
			return `"path" and "force" belong to a take, not to ${o.command}`
		// an unknown path is not an invalid timeline: the engine refuses the command (unknown-path), as the daemon did
	}
	return undefined
}

/**
 * Parses a whole timeline against a model. Blank lines and lines starting with '#' are skipped. Throws
 * TimelineError naming the 1-based line and what is wrong.
 */
export function parseTimeline(text: string, model: Model, file = 'timeline'): Parsed[] {
	const out: Parsed[] = []
	const seen = new Set<string>()
	const started = new Set<string>()
	let lastT = 0
	const lines = text.split('\n')
	for (let i = 0; i < lines.length; i++) {
		const raw = lines[i]!.trim()
		const line = i + 1
		if (raw === '' || raw.startsWith('#')) continue
		let value: unknown
		try {
			value = JSON.parse(raw)
		} catch (err) {
			throw new TimelineError(line, `bad JSON: ${(err as Error).message}`, file)
		}
		const obs = parseRecord(value)
		if (typeof obs === 'string') throw new TimelineError(line, obs, file)
		const problem = checkAgainstModel(obs, model)
		if (problem !== undefined) throw new TimelineError(line, problem, file)
		if (obs.t < lastT) throw new TimelineError(line, `t decreases: ${obs.t} after ${lastT}`, file)
		lastT = obs.t
		if (obs.type === 'start') {
			if (started.has(obs.feed)) throw new TimelineError(line, `a second start record for feed ${obs.feed}`, file)
			if (seen.has(obs.feed))
				throw new TimelineError(
					line,
					`a start record for feed ${obs.feed} after other records of that feed (it must come first)`,
					file,
				)
			started.add(obs.feed)
		}
		if (obs.type !== 'device' && obs.type !== 'ups' && obs.type !== 'input') seen.add(obs.feed)
		out.push({ obs, line })
	}
	return out
}
