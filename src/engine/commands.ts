// Commands and crosspoint changes the engine did not decide (docs/contract.md §4 Commands, §4a): what each does to a
// feed, and the outputs it gives. The engine touches the feed afterwards, so that it is evaluated at the same t.
import { setAlarm } from './alarms.ts'
import { explainTriggers } from './decide.ts'
import { classOf, type FeedRt, type PathRt } from './state.ts'
import type { ExternalObservation, FollowObservation, Observation, Output } from './types.ts'

/**
 * An operator's command (§4 Commands): refused (false: nothing changed), or accepted with its decision when a take
 * switches (true: the feed is to be evaluated).
 */
export function command(feed: FeedRt, obs: Observation & { type: 'command' }, out: Output[]): boolean {
	const t = obs.t
	const who = obs.operator !== undefined ? { operator: obs.operator } : {}
	const refuse = (refused: 'locked' | 'ineligible' | 'unknown-path' | 'not-started', message: string): false => {
		out.push({
			kind: 'refusal',
			t,
			feed: feed.key,
			command: obs.command,
			...(obs.path !== undefined ? { path: obs.path } : {}),
			...who,
			refused,
			message,
		})
		return false
	}
	if (!feed.started) return refuse('not-started', `feed ${feed.key} has not started (its crosspoint is not known)`)
	feed.touched = true
	switch (obs.command) {
		case 'take': {
			const p = obs.path === undefined ? undefined : feed.byId.get(obs.path)
			if (!p) return refuse('unknown-path', `feed ${feed.key} has no path "${obs.path ?? ''}"`)
			if (feed.locked) return refuse('locked', `feed ${feed.key} is locked: unlock it first`)
			if (classOf(p) === 'ineligible' && obs.force !== true)
				return refuse(
					'ineligible',
					`path ${p.id} is ineligible (signal ${p.signal ?? 'none'}); take it with force to override`,
				)
			feed.mode = 'manual'
			accepted(feed, obs, out)
			// an operator's take answers another controller's: the external-take alarm has been dealt with
			setAlarm(feed, 'external-take', false, t, out, () => [`${obs.operator ?? 'an operator'} took ${p.id}`])
			if (p !== feed.active) {
				out.push({
					kind: 'decision',
					t,
					feed: feed.key,
					from: feed.active?.id ?? null,
					to: p.id,
					cause: 'take',
					...who,
					explain: {
						rule: 'take',
						triggers: explainTriggers([{ obs }]),
						because: [
							`${obs.operator ?? 'an operator'} took ${p.id}${obs.force === true ? ' with force' : ''}; the feed is now manual`,
						],
					},
				})
				feed.active = p
			}
			break
		}
		case 'auto':
		case 'manual':
			feed.mode = obs.command
			accepted(feed, obs, out)
			if (obs.command === 'auto')
				setAlarm(feed, 'external-take', false, t, out, () => [
					`${obs.operator ?? 'an operator'} put the feed back in auto`,
				])
			break
		case 'lock':
		case 'unlock':
			feed.locked = obs.command === 'lock'
			accepted(feed, obs, out)
			break
	}
	return true
}

/**
 * §4a: the router shows what sigpath did not command. The path on that input is on air now, locked or not (a lock
 * forbids sigpath's own switches; it never blinds it); the feed goes to manual; `external-take` names the path,
 * or `off-path` stands while the input is none of the feed's paths.
 */
export function external(feed: FeedRt, obs: ExternalObservation, p: PathRt | null, out: Output[]): void {
	const t = obs.t
	feed.active = p
	feed.mode = 'manual'
	feed.would = null
	if (p !== null) {
		const input = obs.input !== undefined ? ` (input ${obs.input})` : ''
		// raised again for every such change: each is news to the operator
		feed.alarms['external-take'] = null
		setAlarm(
			feed,
			'external-take',
			true,
			t,
			out,
			() => [`the router's tally shows ${p.id}${input}, which sigpath did not command`],
			`${feed.key}: the router put ${p.id}${input} on air without sigpath; the feed is manual`,
		)
	}
}

/**
 * A standby follows the active node (§9): the active node's path, mode and lock. The external-take alarm is the
 * active node's to raise, not a follower's: any left from before is cleared.
 */
export function follow(feed: FeedRt, obs: FollowObservation, p: PathRt | null, out: Output[]): void {
	feed.active = p
	if (obs.mode !== undefined) feed.mode = obs.mode
	if (obs.locked !== undefined) feed.locked = obs.locked
	feed.would = null
	setAlarm(feed, 'external-take', false, obs.t, out, () => [`following the active node: ${p?.id ?? 'off-path'} on air`])
}

function accepted(feed: FeedRt, obs: Observation & { type: 'command' }, out: Output[]): void {
	out.push({
		kind: 'accepted',
		t: obs.t,
		feed: feed.key,
		command: obs.command,
		...(obs.path !== undefined ? { path: obs.path } : {}),
		...(obs.operator !== undefined ? { operator: obs.operator } : {}),
		mode: feed.mode,
		locked: feed.locked,
	})
}
