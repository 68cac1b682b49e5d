// What the dashboard's push channel carries: the /status report plus what a TCO needs beside it (the event's Big
// Bet flag, device detail such as UPS power, recent switches with their wall time and take latency).
import { monotonicMs } from '../clock.ts'
import type { AlarmRecord, FeedState } from '../control/payloads.ts'
import type { FeedKey } from '../domain/model.ts'
import type { FacsReport } from '../facs/report.ts'
import type { Daemon, StatusReport, TakeTiming } from '../runtime/daemon.ts'
import type { FeedExtras } from '../runtime/publisher.ts'

/** The part of the daemon the status server reads: consumed as is, nothing added to the daemon for it. */
export type StatusDaemon = Pick<
	Daemon,
	| 'status'
	| 'isReady'
	| 'readiness'
	| 'feedState'
	| 'deviceState'
	| 'command'
	| 'events'
	| 'journalDir'
	| 'journalKey'
	| 'takes'
	| 'model'
	| 'engine'
	| 'feedAlarms'
	| 'alarmList'
	| 'ackAlarm'
	| 'facs'
>

export interface SwitchView {
	feed: FeedKey
	/** null: the feed was off-path */
	from: string | null
	to: string
	cause: string
	/** wall clock of the tally confirmation, ISO 8601 */
	at: string
	/** request out to the router's tally confirming it, ms */
	latencyMs: number
}

export interface DeviceView {
	id: string
	role: string
	connected: boolean | null
	health: string
	/** UPS: online | on-battery | low-battery | bypass | off, when the device reports it */
	power: string | null
	minutesRemaining: number | null
	/** why it is degraded (loss, ts-errors, black, freeze, silence), while it is */
	cause: string | null
}

export interface Snapshot {
	site: string
	version: string
	ready: boolean
	events: { id: string; name: string | null; tier: string; bigBet: boolean }[]
	feeds: StatusReport['feeds']
	devices: DeviceView[]
	switches: SwitchView[]
	/** this node: alone, or active or standby in a pair (docs/contract.md §9) */
	node: StatusReport['node']
	/** the active alarms, newest first: a page opened during an alarm shows it at once */
	alarms: AlarmRecord[]
	/** the last FACS tour of each event since the daemon started */
	facs: FacsReport[]
}

export const RECENT_SWITCHES = 50

/** A take as the dashboard shows it. `confirmedAt` is monotonic: its wall time is now minus its age. */
export function switchView(t: TakeTiming, nowWall = Date.now(), nowMono = monotonicMs()): SwitchView {
	return {
		feed: t.feed,
		from: t.from,
		to: t.to,
		cause: t.cause,
		at: new Date(nowWall - Math.max(0, nowMono - t.confirmedAt)).toISOString(),
		latencyMs: Math.round((t.confirmedAt - t.sentAt) * 100) / 100,
	}
}

export function deviceView(
	d: { id: string; role: string },
	s: { connected: boolean; health: string; detail: Record<string, unknown> } | undefined,
): DeviceView {
	const power = s?.detail['power']
	const minutes = s?.detail['minutesRemaining']
	const cause = s?.detail['degraded']
	return {
		id: d.id,
		role: d.role,
		connected: s?.connected ?? null,
		health: s?.health ?? 'unknown',
		power: typeof power === 'string' ? power : null,
		minutesRemaining: typeof minutes === 'number' ? minutes : null,
		cause: typeof cause === 'string' ? cause : null,
	}
}

export function snapshot(daemon: StatusDaemon): Snapshot {
	const status = daemon.status()
	const nowWall = Date.now()
	const nowMono = monotonicMs()
	const events = new Map<string, Snapshot['events'][number]>()
	for (const ref of daemon.model.feeds.values())
		if (!events.has(ref.event.id))
			events.set(ref.event.id, {
				id: ref.event.id,
				name: ref.event.name ?? null,
				tier: ref.event.tier,
				bigBet: ref.event.bigBet === true,
			})
	const roles = new Map(status.devices.map((d) => [d.id, d.role]))
	return {
		site: status.site,
		version: status.version,
		ready: daemon.isReady(),
		events: [...events.values()],
		feeds: status.feeds,
		devices: [...roles].map(([id, role]) => deviceView({ id, role }, daemon.deviceState(id))),
		switches: daemon.takes.slice(-RECENT_SWITCHES).map((t) => switchView(t, nowWall, nowMono)),
		node: status.node,
		alarms: status.alarms,
		facs: daemon.facs.last(),
	}
}

/**
 * A feed's change as pushed (the dashboard merges it by key): its state, its active alarms (the engine's and the
 * power monitor's) and its live compliance with the violations, as the publisher saw them when it published.
 */
export function feedPush(key: FeedKey, state: FeedState, extras: FeedExtras): Record<string, unknown> {
	return {
		key,
		...state,
		alarms: extras.alarms,
		compliance: { ...state.compliance, violations: extras.violations },
	}
}
