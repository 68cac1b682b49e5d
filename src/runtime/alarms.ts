// The alarm manager: the one way an alarm leaves the daemon (docs/contract.md §7). Every producer goes through it:
// the engine (no-path, no-signal, at-risk of a feed; external-take, off-path, on-air-failed), the takes
// (take-unconfirmed) and the power monitor (power-on-battery, power-low-battery, at-risk of a feed's power), so that
// each alarm is logged, journaled and published in one form, and a held condition is raised once and cleared once.
//
// Two kinds of alarm:
// - held: a condition that is true for a while (a UPS on battery). `hold(id, active, …)` raises it when it becomes
//   true and clears it when it becomes false; a repeated state changes nothing. Its id names the condition, so two
//   conditions with the same code (two UPSes on battery) are two alarms.
// - events: something that happened (a take the router did not confirm). `raise()` journals and publishes it; there
//   is nothing to clear.
// Engine alarms are held by the engine itself (it outputs raise and clear) and journaled with the engine's outputs
// by the engine loop; `fromEngine()` only logs and publishes them.
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { Alarm as PublishedAlarm } from '../control/payloads.ts'
import type { FeedKey } from '../domain/model.ts'
import type { Alarm as EngineAlarm } from '../engine/types.ts'
import type { Entry } from '../journal/index.ts'
import { severityOf } from './state.ts'

export interface AlarmAbout {
	feed?: FeedKey
	device?: string
}

export interface AlarmManagerDeps {
	log: Logger
	/** journals records (never waits for the disk) */
	journal: (entries: readonly Entry[]) => void
	/** engine time, for the journal record */
	now: () => number
	/** wall-clock ms, for the published alarm */
	wallMs: () => number
}

interface Held {
	code: string
	about: AlarmAbout
}

export class AlarmManager extends EventEmitter<{ alarm: [PublishedAlarm] }> {
	/** held alarms raised and not yet cleared, by id */
	private readonly held = new Map<string, Held>()

	constructor(private readonly d: AlarmManagerDeps) {
		super()
	}

	/** An alarm the engine raised or cleared (already journaled with the engine's outputs). */
	fromEngine(o: EngineAlarm): void {
		this.d.log[o.active ? 'warn' : 'info']({ feed: o.feed, alarm: o.alarm, active: o.active }, o.message)
		this.publish({ code: o.alarm, active: o.active, about: { feed: o.feed }, message: o.message })
	}

	/** Something that happened, about a feed: logged, journaled and published; there is nothing to clear. */
	raise(code: string, feed: FeedKey, message: string): void {
		this.d.log.warn({ feed, alarm: code }, message)
		this.d.journal([{ kind: 'alarm', payload: { t: this.d.now(), feed, alarm: code, active: true, message } }])
		this.publish({ code, active: true, about: { feed }, message })
	}

	/**
	 * A held condition, by its id: raised when it becomes true, cleared when it becomes false, nothing when it is
	 * unchanged. `message` says the condition as it stands; the clear is published as "cleared: " and the message
	 * without a leading "subject: ". `t`: the engine time of the observation that changed it.
	 */
	hold(id: string, active: boolean, code: string, about: AlarmAbout, message: string, t = this.d.now()): void {
		if (active === this.held.has(id)) return
		if (active) this.held.set(id, { code, about })
		else this.held.delete(id)
		this.d.log[active ? 'warn' : 'info']({ alarm: code, ...about, active }, message)
		this.d.journal([
			{
				kind: 'alarm',
				payload: {
					t,
					feed: about.feed ?? '',
					alarm: code,
					active,
					message: about.device ? `${about.device}: ${message}` : message,
				},
			},
		])
		this.publish({
			code,
			active,
			about,
			message: active ? message : `cleared: ${message.replace(/^[^:]*: /, '')}`,
		})
	}

	/** The codes of the held alarms about a feed (the engine's own are in its snapshot). */
	heldCodes(feed: FeedKey): string[] {
		const codes: string[] = []
		for (const h of this.held.values()) if (h.about.feed === feed && !codes.includes(h.code)) codes.push(h.code)
		return codes
	}

	private publish(a: { code: string; active: boolean; about: AlarmAbout; message: string }): void {
		this.emit('alarm', {
			t: new Date(this.d.wallMs()).toISOString(),
			severity: severityOf(a.code, a.active),
			code: a.code,
			...(a.about.device ? { device: a.about.device } : {}),
			...(a.about.feed ? { feed: a.about.feed } : {}),
			message: a.message,
		})
	}
}
