// The publisher: the one place where what changed in the daemon leaves it (docs/contract.md §5 and §6). Feed and
// device states go out as MQTT retained state and as events on the daemon's emitter, which the status endpoint's
// push channel (SSE), its /status cache and metrics, and the MIDI LEDs listen to. Alarms (each lifecycle event, and
// the whole active list, retained) and confirmed takes go out the same way; the journal's head (§8) as retained state
// only (/status reads it from the daemon).
//
// A feed is published only when what is shown of it differs from what was last published (one JSON.stringify per
// look), so a producer may ask for a feed whenever it might have changed: the engine loop asks for every feed the
// engine touched (reports, commands and the timers that move a class, such as recovering -> healthy after clearMs),
// the tally follower for a feed whose crosspoint moved, the power monitor for a feed whose live compliance changed,
// and every alarm about a feed asks for it here. What is shown is the MQTT state plus the feed's active alarms and
// its live violations (the screens show them); MQTT retains the state alone, republished only when it changed. A
// UPS on battery changes a feed's alarms (at-risk) without changing its state: an open dashboard once missed it
// until reloaded, and kept it after the UPS came back.
import { EventEmitter } from 'node:events'
import type { Alarm, AlarmRecord, DeviceState, FeedState, JournalHeadState } from '../control/payloads.ts'
import type { FeedKey, Model } from '../domain/model.ts'
import type { NodeStatus } from './ha/role.ts'
import type { Violation } from '../rule/index.ts'
import type { FacsReport } from '../facs/report.ts'
import type { TakeTiming } from './takes.ts'

/** What the screens show of a feed beside its state: its active alarm codes and live compliance violations. */
export interface FeedExtras {
	alarms: string[]
	violations: Violation[]
}

export interface DaemonEvents {
	/** a feed's published state, or what the screens show beside it, changed */
	feed: [FeedKey, FeedState, FeedExtras]
	/** a device's state changed */
	device: [string, DeviceState]
	alarm: [Alarm]
	/** a take confirmed on the router's tally */
	switch: [TakeTiming]
	/** the first full sync is done and state is published (READY=1) */
	ready: []
	/** this node's role or the active node changed (a pair, docs/contract.md §9) */
	node: [NodeStatus]
	/** a FACS tour ended (docs/contract.md §10) */
	facs: [FacsReport]
}

/** Where retained state goes (the MQTT client), attached once it is connected. */
export interface StateSink {
	publishFeedState(feed: FeedKey, state: FeedState): void
	publishDeviceState(device: string, state: DeviceState): void
	publishAlarm(alarm: Alarm): void
	/** the active alarms, newest first (retained; sent as it stands once retained state may be published) */
	publishActiveAlarms(alarms: readonly AlarmRecord[]): void
	/** the journal's head (§8), retained, sent each time even when unchanged */
	publishJournalHead(head: JournalHeadState): void
	/** the first full sync is done: retained state may be published from now on */
	markSynced(): void
}

export interface PublisherDeps {
	model: Model
	/** a feed's router has synced (its crosspoint is known): only then is its state retained on MQTT */
	feedStarted: (key: FeedKey) => boolean
	feedState: (key: FeedKey) => FeedState
	feedExtras: (key: FeedKey) => FeedExtras
	deviceState: (id: string) => DeviceState | undefined
}

export class Publisher {
	readonly events = new EventEmitter<DaemonEvents>()
	/** completed takes, newest last (for the status endpoint and benchmarks), at most MAX_TAKES */
	readonly takes: TakeTiming[] = []
	private sink: StateSink | undefined
	/** per feed, the state last retained on MQTT and what was last shown */
	private readonly last = new Map<FeedKey, { state: string; shown: string }>()
	/** feeds whose state the sink holds: a feed is retained only once its router has synced (docs/contract.md §6a) */
	private readonly retained = new Set<FeedKey>()
	private synced = false
	/** the active alarms as last published: a sink attached later (a reconnect, a new broker) starts from it */
	private activeAlarms: readonly AlarmRecord[] = []
	/** feeds whose paths go through a device, or whose output is on it (a router) */
	private readonly feedsOfDevice = new Map<string, FeedKey[]>()

	constructor(private readonly d: PublisherDeps) {
		for (const ref of d.model.feeds.values())
			for (const dev of new Set([...ref.feed.paths.flatMap((p) => p.via), ref.feed.output.router]))
				this.feedsOfDevice.set(dev, [...(this.feedsOfDevice.get(dev) ?? []), ref.key])
	}

	attach(sink: StateSink): void {
		this.sink = sink
		this.retained.clear()
		// an empty list too: a broker may still hold the list of a previous run
		sink.publishActiveAlarms(this.activeAlarms)
	}

	/** The first full sync is done (or given up on): state is complete from now on. */
	get ready(): boolean {
		return this.synced
	}

	/** Publishes the feed if its state, or what is shown beside it, changed since it was last published. */
	feed(key: FeedKey): void {
		const state = this.d.feedState(key)
		const extras = this.d.feedExtras(key)
		const json = JSON.stringify(state)
		const shown = JSON.stringify(extras)
		const last = this.last.get(key)
		const changed = last?.state !== json
		const retain = this.sink !== undefined && this.d.feedStarted(key) && (changed || !this.retained.has(key))
		if (retain) {
			this.retained.add(key)
			this.sink!.publishFeedState(key, state)
		}
		if (!changed && last?.shown === shown) return
		this.last.set(key, { state: json, shown })
		this.events.emit('feed', key, state, extras)
	}

	feeds(keys: Iterable<FeedKey>): void {
		for (const k of keys) this.feed(k)
	}

	/** A device's state, after the feeds that depend on it (a router's sync moves what its feeds show on air). */
	device(id: string): void {
		this.feeds(this.feedsOfDevice.get(id) ?? [])
		const s = this.d.deviceState(id)
		if (!s) return
		this.sink?.publishDeviceState(id, s)
		this.events.emit('device', id, s)
	}

	/** An alarm, then its feed: a raise or clear changes what the feed shows (its alarm badges). */
	alarm(a: Alarm): void {
		this.sink?.publishAlarm(a)
		this.events.emit('alarm', a)
		if (a.feed !== undefined && this.d.model.feeds.has(a.feed as FeedKey)) this.feed(a.feed as FeedKey)
	}

	/** The active list changed (a raise, a clear, an acknowledgement, a standing alarm's text). */
	alarmList(alarms: readonly AlarmRecord[]): void {
		this.activeAlarms = alarms
		this.sink?.publishActiveAlarms(alarms)
	}

	/** The journal's head: after every decision and at least every 10 s (the daemon's journal part calls it). */
	journalHead(head: JournalHeadState): void {
		this.sink?.publishJournalHead(head)
	}

	switched(t: TakeTiming): void {
		this.takes.push(t)
		if (this.takes.length > 10_000) this.takes.splice(0, 5_000)
		this.events.emit('switch', t)
	}

	/** The first publication: every feed and device, then retained state is released and readiness announced. */
	firstSync(feeds: Iterable<FeedKey>, devices: Iterable<string>): void {
		if (this.synced) return
		this.synced = true
		this.feeds(feeds)
		for (const id of devices) this.device(id)
		this.sink?.markSynced()
		this.events.emit('ready')
	}
}
