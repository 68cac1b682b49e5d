// What the daemon publishes (MQTT state, HTTP status) built from the engine's snapshot and the router's tally.
import type { AlarmRecord, DeviceState, FeedState } from '../control/payloads.ts'
import type { Config } from '../domain/config.ts'
import type { FeedKey, Model } from '../domain/model.ts'
import type { FeedSnapshot } from '../engine/types.ts'
import type { Violation } from '../rule/index.ts'
import type { NodeStatus } from './ha/role.ts'
import type { JournalStatus } from './journaling.ts'

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

export interface StatusReport {
	site: string
	version: string
	uptimeS: number
	feeds: {
		event: string
		feed: string
		name: string | null
		eventName: string | null
		tier: string
		critical: boolean
		active: string | null
		mode: string
		locked: boolean
		alarms: string[]
		paths: { id: string; method: string; signal: string | null; state: string }[]
		compliance: FeedState['compliance'] & { violations: { code: string; paths: string[]; detail: string }[] }
	}[]
	/** `cause`: why a device is degraded (loss, ts-errors, black, freeze, silence), while it is */
	devices: { id: string; role: string; connected: boolean | null; health: DeviceState['health']; cause?: string }[]
	/** this node (docs/contract.md §9): alone, or active or standby in a pair */
	node: NodeStatus
	/** the active alarms, newest first (docs/contract.md §7) */
	alarms: AlarmRecord[]
	/** the journal's head `{ seq, hash, at }` and its health (§8); null before it is open */
	journal: JournalStatus | null
}

export interface StatusInputs {
	site: string
	version: string
	uptimeS: number
	model: Model
	devices: Config['devices']
	feedState: (key: FeedKey) => FeedState
	feedAlarms: (key: FeedKey) => string[]
	alarms: () => AlarmRecord[]
	violations: (key: FeedKey) => readonly Violation[]
	deviceState: (id: string) => DeviceState | undefined
	node: NodeStatus
	journal: () => JournalStatus | null
}

/** GET /status (docs/contract.md §6): every feed with its paths, alarms and compliance, and every device. */
export function statusReport(i: StatusInputs): StatusReport {
	return {
		site: i.site,
		version: i.version,
		uptimeS: i.uptimeS,
		feeds: [...i.model.feeds.values()].map((ref) => {
			const st = i.feedState(ref.key)
			return {
				event: ref.event.id,
				feed: ref.feed.id,
				name: ref.feed.name ?? null,
				eventName: ref.event.name ?? null,
				tier: ref.event.tier,
				critical: ref.feed.critical,
				active: st.active,
				mode: st.mode,
				locked: st.locked,
				alarms: i.feedAlarms(ref.key),
				paths: ref.ranked.map((p) => ({
					id: p.id,
					method: p.method,
					signal: st.paths[p.id]?.signal ?? null,
					state: st.paths[p.id]?.state ?? 'ineligible',
				})),
				compliance: { ...st.compliance, violations: [...i.violations(ref.key)] },
			}
		}),
		devices: i.devices.map((d) => {
			const s = i.deviceState(d.id)
			const cause = s?.detail['degraded']
			return {
				id: d.id,
				role: d.role,
				connected: s?.connected ?? null,
				health: s?.health ?? 'unknown',
				...(typeof cause === 'string' ? { cause } : {}),
			}
		}),
		node: i.node,
		alarms: i.alarms(),
		journal: i.journal(),
	}
}
