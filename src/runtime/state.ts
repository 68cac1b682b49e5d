// What the daemon publishes (MQTT state, HTTP status) built from the engine's snapshot and the router's tally.
import type { Alarm as MqttAlarm, FeedState } from '../control/payloads.ts'
import type { Alarm as EngineAlarm, FeedSnapshot } from '../engine/types.ts'

/**
 * A feed's published state. `active` is the path the router's own tally shows when it is known (the truth on air),
 * else the engine's; `compliance.compliant` holds when the static rule is met and enough discrete paths are healthy.
 */
export function feedState(
	snap: FeedSnapshot,
	tallyPath: string | null | undefined,
	staticCompliant: boolean,
	critical: boolean,
): FeedState {
	const paths: FeedState['paths'] = {}
	let healthy = 0
	for (const [id, p] of Object.entries(snap.paths)) {
		paths[id] = { signal: p.signal, state: p.state }
		if (p.state === 'healthy') healthy++
	}
	const c = snap.compliance
	const healthyDiscretePaths = c?.healthyDiscretePaths ?? healthy
	const required = critical ? (c?.required ?? 0) : 0
	return {
		active: !snap.started ? null : tallyPath !== undefined ? tallyPath : snap.active,
		mode: snap.mode,
		locked: snap.locked,
		paths,
		compliance: {
			compliant: !critical || (staticCompliant && healthyDiscretePaths >= required),
			healthyDiscretePaths,
			required,
		},
	}
}

const SEVERITY: Record<string, MqttAlarm['severity']> = {
	'no-path': 'critical',
	'no-signal': 'major',
	'at-risk': 'major',
	'take-unconfirmed': 'critical',
	'foreign-source': 'major',
	'device-stale': 'minor',
	'power-on-battery': 'major',
	'power-low-battery': 'critical',
}

export function severityOf(code: string, active = true): MqttAlarm['severity'] {
	return active ? (SEVERITY[code] ?? 'warning') : 'cleared'
}

export function mqttAlarm(a: EngineAlarm, wall: Date): MqttAlarm {
	return {
		t: wall.toISOString(),
		severity: severityOf(a.alarm, a.active),
		code: a.alarm,
		feed: a.feed,
		message: a.message,
	}
}
