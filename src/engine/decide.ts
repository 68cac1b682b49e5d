// The decision rules of docs/contract.md §4, read on a feed's state. Pure: the Engine applies what this returns.
import { classOf, type Class, type FeedRt, type PathRt, type Trigger } from './state.ts'
import type { AlarmCode, Cause, Observation } from './types.ts'

export interface Verdict {
	/** where the rules say to go (may be suppressed by rule 4), or null to stay */
	to: PathRt | null
	cause: Cause
	rule: string
	/** rule 1 applies and no candidate is eligible */
	noPath: boolean
	/** the paths whose state the rule read (their last signal change is part of the explanation) */
	paths: PathRt[]
	because: string[]
}

const describe = (p: PathRt): string =>
	`${p.id} (rank ${p.rank + 1}) is ${classOf(p)}${p.signal !== 'up' ? `, signal ${p.signal ?? 'none'}` : ''}`

export function failureText(p: PathRt, lossMs: number): string {
	return `active path ${p.id} failed at ${p.lastFailure ?? '?'} (down or degraded for lossMs ${lossMs}) and is ${p.signal ?? 'without signal'}`
}

/** The best candidate among the classes given, in that order of preference; ties by rank. */
function best(f: FeedRt, classes: readonly Class[]): PathRt | null {
	let found: PathRt | null = null
	let foundClass = classes.length
	for (const p of f.paths) {
		if (p === f.active) continue
		const c = classes.indexOf(classOf(p))
		if (c >= 0 && c < foundClass) {
			found = p
			foundClass = c
		}
	}
	return found
}

export function decide(f: FeedRt): Verdict {
	const a = f.active
	const stay: Verdict = { to: null, cause: 'failover', rule: '', noPath: false, because: [], paths: [] }
	// §4a: off-path (the router shows none of the feed's paths): no automatic switch
	if (a === null) return stay
	// Rules 1 and 2 act only on an active path that has failed in its current outage and reports down or degraded
	if (a.failedOutage && a.signal === 'down') {
		const to = best(f, ['healthy', 'recovering', 'degraded'])
		if (!to) return { ...stay, rule: '1', noPath: true, paths: [a] }
		return {
			to,
			cause: 'failover',
			rule: '1: the active path failed and is down; best candidate: healthy, then recovering, then degraded',
			noPath: false,
			because: [failureText(a, f.lossMs), describe(to)],
			paths: [a, to],
		}
	}
	if (a.failedOutage && a.signal === 'degraded') {
		const to = best(f, ['healthy'])
		if (to)
			return {
				to,
				cause: 'failover',
				rule: '2: the active path failed and is degraded; a healthy candidate exists',
				noPath: false,
				because: [failureText(a, f.lossMs), describe(to)],
				paths: [a, to],
			}
	}
	if (f.preference === 'primary')
		for (const p of f.paths) {
			if (p.rank >= a.rank) break
			if (classOf(p) === 'healthy' && !p.revertBlocked)
				return {
					to: p,
					cause: 'revert',
					rule: '3: preference primary; a higher-ranked path is healthy',
					noPath: false,
					because: [
						`${p.id} (rank ${p.rank + 1}) is healthy${p.failedEver ? ` (up since ${p.upSince ?? '?'}, cleared after clearMs ${f.clearMs})` : ''}`,
						`active path ${a.id} has rank ${a.rank + 1}`,
					],
					paths: [p],
				}
		}
	return stay
}

export function explainTriggers(triggers: readonly Trigger[]): string[] {
	return triggers.map((tr) => ('obs' in tr ? describeObs(tr.obs) : describeTimer(tr)))
}

function describeObs(o: Observation): string {
	const at = 'at' in o && o.at !== undefined && o.at !== o.t ? ` (since ${o.at})` : ''
	switch (o.type) {
		case 'start':
			return `t=${o.t} start: ${o.feed} on ${o.active}${o.mode ? `, ${o.mode}` : ''}${o.locked ? ', locked' : ''}`
		case 'signal':
			return `t=${o.t} path ${o.feed}/${o.path} ${o.signal}${at}`
		case 'device':
			return `t=${o.t} device ${o.device} ${o.state}${at}`
		case 'command':
			return `t=${o.t} command ${o.command}${o.path !== undefined ? ` ${o.path}` : ''}${o.force ? ' force' : ''}${o.operator !== undefined ? ` by ${o.operator}` : ''}`
		case 'input':
			return `t=${o.t} router ${o.router} input ${o.input} ${o.state}${at}`
		case 'external':
			return `t=${o.t} router output of ${o.feed} switched outside sigpath to ${o.path ?? 'an input of no path'}${o.input !== undefined ? ` (input ${o.input})` : ''}`
		case 'follow':
			return `t=${o.t} following the active node: ${o.feed} on ${o.active ?? 'an input of no path'}${o.mode ? `, ${o.mode}` : ''}${o.locked !== undefined ? (o.locked ? ', locked' : ', unlocked') : ''}`
		case 'ups':
			return `t=${o.t} UPS ${o.ups} ${o.power ?? 'not read'}${o.commLost ? ' (contact lost)' : ''}`
	}
}

const timerText = {
	loss: 'failed (lossMs elapsed)',
	clear: 'cleared (clearMs elapsed)',
	revert: 'is a revert target again (up for clearMs since the start)',
	null: 'had no signal for lossMs',
	grace: '',
} as const

function describeTimer(tr: Exclude<Trigger, { obs: Observation }>): string {
	if (tr.timer === 'grace') return `t=${tr.due} timer: lossMs since the start, compliance judged from now`
	return `t=${tr.due} timer: ${tr.path ?? ''} ${timerText[tr.timer]}`
}

/** The step's triggers, preceded by the observations that set the signals of the paths the rule read. */
export function withCauses(paths: readonly PathRt[], triggers: readonly Trigger[]): Trigger[] {
	const out: Trigger[] = []
	for (const p of paths)
		if (
			p.cause &&
			!triggers.some((tr) => 'obs' in tr && tr.obs === p.cause) &&
			!out.some((tr) => 'obs' in tr && tr.obs === p.cause)
		)
			out.push({ obs: p.cause })
	out.sort((a, b) => ('obs' in a ? a.obs.t : a.due) - ('obs' in b ? b.obs.t : b.due))
	return [...out, ...triggers]
}

export const alarmText: Record<AlarmCode, (feed: string, path: string | null) => string> = {
	'no-path': (feed, path) => `${feed}: active path ${path} failed and no other path is eligible`,
	'no-signal': (feed, path) => `${feed}: no signal reported for the active path ${path}`,
	'at-risk': (feed) => `${feed}: fewer healthy discrete paths than the contribution rule requires`,
	'external-take': (feed, path) => `${feed}: the router put ${path} on air without sigpath; the feed is manual`,
	'off-path': (feed) => `${feed}: the router shows an input that is none of the feed's paths`,
	'on-air-failed': (feed, path) => `${feed}: active path ${path} has failed and is still on air`,
}

/**
 * What an alarm's clear says: that it ended, and what is on air now (`path`: the path it was raised on; `active`: the
 * path on air at the clear, null off-path). It must read as a clear wherever it is shown alone (MQTT, the dashboard).
 */
export const clearText: Record<AlarmCode, (feed: string, path: string | null, active: string | null) => string> = {
	'no-path': (feed, _path, active) => `${feed}: no longer without an eligible path (${onAir(active)})`,
	'no-signal': (feed, _path, active) =>
		active === null
			? `${feed}: no-signal ended: the feed is off-path`
			: `${feed}: signal reported again on the active path ${active}`,
	'at-risk': (feed) => `${feed}: enough healthy discrete paths again`,
	'external-take': (feed, _path, active) => `${feed}: back under sigpath's control (${onAir(active)})`,
	'off-path': (feed, _path, active) => `${feed}: the router shows one of the feed's paths again (${onAir(active)})`,
	'on-air-failed': (feed, path, active) =>
		active === path
			? `${feed}: ${path} on air is healthy again`
			: `${feed}: ${path} is no longer on air (${onAir(active)})`,
}

function onAir(active: string | null): string {
	return active === null ? 'off-path' : `${active} on air`
}
