// The alarm manager: every alarm's lifecycle, in one place (docs/contract.md §7). An alarm is a condition: raised when
// it begins, cleared when it ends, acknowledged by an operator in between; its id names the condition (code and
// subject, src/domain/alarms.ts), so a condition raised again while it stands is the same alarm. Each raise, clear and
// acknowledgement is logged, journaled and emitted (`alarm`, one lifecycle event), and every change of the active
// list is emitted whole (`active`): the publisher sends both to MQTT and the dashboard, the status endpoint reads
// list().
//
// Producers:
// - the engine (no-path, no-signal, at-risk of too few paths, external-take, off-path, on-air-failed) holds its
//   alarms itself and outputs each raise and clear, journaled with its outputs by the engine loop: fromEngine();
// - the power monitor (power-on-battery, power-low-battery, at-risk of power), the device watch (device-stale), the
//   journal (journal-failed) and the takes (take-unconfirmed) hold theirs here by id: hold().
//
// An acknowledgement marks an alarm seen; it does not clear it: the alarm stays active until its condition ends.
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import { printable, type AckResult, type Alarm, type AlarmRecord } from '../control/payloads.ts'
import { alarmId, severityOf, type AlarmSeverity } from '../domain/alarms.ts'
import type { FeedKey } from '../domain/model.ts'
import type { Alarm as EngineAlarm } from '../engine/types.ts'
import type { Entry } from '../journal/index.ts'

/** A condition as its producer sees it now: raised while `active`, cleared when it turns false. */
export interface Condition {
	id: string
	code: string
	active: boolean
	feed?: FeedKey
	device?: string
	/** default: the code's (src/domain/alarms.ts) */
	severity?: AlarmSeverity
	/** what the raise says: the condition as it stands */
	message: string
	/** what the clear says: that it ended, and how things stand now */
	cleared: string
}

/** Who acknowledges: `operator` is the name the alarm shows; `panel` the panel or token it came from (null: none). */
export interface AckBy {
	operator: string
	panel: string | null
	via: string
}

export interface AlarmManagerDeps {
	log: Logger
	/** journals records (never waits for the disk) */
	journal: (entries: readonly Entry[]) => void
	/** engine time, for the journal record */
	now: () => number
	/** wall-clock ms, for raisedAt, clearedAt and ack.at */
	wallMs: () => number
}

/** How long a cleared alarm stays in GET /alarms?all=1. */
export const CLEARED_KEPT_MS = 3_600_000
/** at most this many cleared alarms are kept (a flapping condition must not grow memory for an hour) */
const MAX_CLEARED = 2000

export class AlarmManager extends EventEmitter<{ alarm: [Alarm]; active: [AlarmRecord[]] }> {
	/** the active alarms by id, oldest raise first */
	private readonly live = new Map<string, AlarmRecord>()
	/** cleared alarms, oldest clear first, with their wall ms */
	private cleared: { at: number; alarm: AlarmRecord }[] = []

	constructor(private readonly d: AlarmManagerDeps) {
		super()
	}

	/** An alarm the engine raised or cleared (already journaled with the engine's outputs). */
	fromEngine(o: EngineAlarm): void {
		this.change(
			{
				id: alarmId.feed(o.alarm, o.feed),
				code: o.alarm,
				active: o.active,
				feed: o.feed,
				message: o.message,
				cleared: o.message,
			},
			null,
		)
	}

	/**
	 * A condition held here by its id: raised when it becomes active, cleared when it stops, nothing when it stands as
	 * it was (a standing alarm's text follows the condition's). `t`: the engine time of the observation that changed it.
	 */
	hold(c: Condition, t = this.d.now()): void {
		this.change(c, t)
	}

	/**
	 * Acknowledges an active alarm: it stays active until its condition clears. An unknown or cleared id changes
	 * nothing and says why; a second acknowledgement changes nothing (the first one stands).
	 */
	ack(id: string, by: AckBy, t = this.d.now()): AckResult {
		const a = this.live.get(id)
		if (!a) {
			const gone = this.cleared.findLast((c) => c.alarm.id === id)
			return {
				ok: false,
				error: gone
					? `alarm ${gone.alarm.id} cleared at ${gone.alarm.clearedAt}: there is nothing to acknowledge`
					: `no active alarm "${printable(id, 200)}"`,
			}
		}
		if (a.ack) return { ok: true, alarm: { ...a } }
		const at = new Date(this.d.wallMs()).toISOString()
		a.ack = { by: by.operator, at }
		this.d.log.info({ alarm: a.code, id, by: by.operator, panel: by.panel, via: by.via }, `acknowledged: ${a.message}`)
		this.d.journal([
			{
				kind: 'ack',
				payload: {
					t,
					id,
					alarm: a.code,
					...(a.feed !== undefined ? { feed: a.feed } : {}),
					...(a.device !== undefined ? { device: a.device } : {}),
					by: by.operator,
					operator: by.operator,
					panel: by.panel,
					via: by.via,
				},
			},
		])
		this.emit('alarm', { ...a, t: at, state: 'acknowledged' })
		this.emitActive()
		return { ok: true, alarm: { ...a } }
	}

	/** The active alarms, newest first; `all`: with those cleared in the last hour (CLEARED_KEPT_MS). */
	list(all = false): AlarmRecord[] {
		const active = [...this.live.values()].reverse().map((a) => ({ ...a }))
		if (!all) return active
		this.prune()
		const gone = this.cleared.map((c) => ({ ...c.alarm })).reverse()
		// newest raise first; Array.prototype.sort is stable, so equal times keep the newest-first order above
		return [...active, ...gone].sort((x, y) => (x.raisedAt < y.raisedAt ? 1 : x.raisedAt > y.raisedAt ? -1 : 0))
	}

	/** The codes of the active alarms about a feed. */
	codes(feed: FeedKey): string[] {
		const codes: string[] = []
		for (const a of this.live.values()) if (a.feed === feed && !codes.includes(a.code)) codes.push(a.code)
		return codes
	}

	/** `t` null: the engine's alarm, journaled by the engine loop. */
	private change(c: Condition, t: number | null): void {
		const standing = this.live.get(c.id)
		if (c.active) {
			if (standing) {
				if (standing.message === c.message) return
				// the same condition, said anew (minutes left, another device short of power): one alarm, its text
				// current in the list; no second raise
				standing.message = c.message
				this.emitActive()
				return
			}
			const a: AlarmRecord = {
				id: c.id,
				code: c.code,
				severity: c.severity ?? severityOf(c.code),
				...(c.feed !== undefined ? { feed: c.feed } : {}),
				...(c.device !== undefined ? { device: c.device } : {}),
				message: c.message,
				raisedAt: new Date(this.d.wallMs()).toISOString(),
			}
			this.live.set(c.id, a)
			this.d.log.warn({ alarm: c.code, id: c.id, feed: c.feed, device: c.device }, c.message)
			if (t !== null) this.journal(a, t, true, c.message)
			this.emit('alarm', { ...a, t: a.raisedAt, state: 'raised' })
			this.emitActive()
			return
		}
		if (!standing) return
		this.live.delete(c.id)
		const wall = this.d.wallMs()
		const a: AlarmRecord = { ...standing, clearedAt: new Date(wall).toISOString() }
		this.cleared.push({ at: wall, alarm: a })
		this.prune()
		this.d.log.info({ alarm: c.code, id: c.id, feed: c.feed, device: c.device }, c.cleared)
		if (t !== null) this.journal(a, t, false, c.cleared)
		this.emit('alarm', { ...a, t: a.clearedAt!, state: 'cleared', severity: 'cleared', message: c.cleared })
		this.emitActive()
	}

	private journal(a: AlarmRecord, t: number, active: boolean, message: string): void {
		this.d.journal([
			{
				kind: 'alarm',
				payload: {
					t,
					feed: a.feed ?? '',
					alarm: a.code,
					active,
					message,
					id: a.id,
					...(a.device !== undefined ? { device: a.device } : {}),
					severity: a.severity,
				},
			},
		])
	}

	private emitActive(): void {
		this.emit('active', this.list())
	}

	private prune(): void {
		const since = this.d.wallMs() - CLEARED_KEPT_MS
		let drop = 0
		while (drop < this.cleared.length && this.cleared[drop]!.at < since) drop++
		drop = Math.max(drop, this.cleared.length - MAX_CLEARED)
		if (drop > 0) this.cleared = this.cleared.slice(drop)
	}
}
