// The publisher: the one place where what changed in the daemon leaves it (docs/contract.md §5 and §6). Feed and
// device states go out as MQTT retained state and as events on the daemon's emitter, which the status endpoint's
// push channel (SSE), its /status cache and metrics, and the MIDI LEDs listen to. Alarms and confirmed takes go out
// the same way.
//
// A feed is published only when its state differs from what was last published (one JSON.stringify per look), so a
// producer may ask for a feed whenever it might have changed: the engine loop asks for every feed the engine
// touched (reports, commands and the timers that move a class, such as recovering -> healthy after clearMs), the
// tally follower for a feed whose crosspoint moved, the power monitor for a feed whose live compliance changed.
import { EventEmitter } from 'node:events'
import type { Alarm, DeviceState, FeedState } from '../control/payloads.ts'
import type { FeedKey, Model } from '../domain/model.ts'
import type { FacsReport } from '../facs/report.ts'
import type { TakeTiming } from './takes.ts'

export interface DaemonEvents {
	/** a feed's published state changed */
	feed: [FeedKey, FeedState]
	/** a device's state changed */
	device: [string, DeviceState]
	alarm: [Alarm]
	/** a take confirmed on the router's tally */
	switch: [TakeTiming]
	/** the first full sync is done and state is published (READY=1) */
	ready: []
	/** a FACS tour ended (docs/contract.md §10) */
	facs: [FacsReport]
}

/** Where retained state goes (the MQTT client), attached once it is connected. */
export interface StateSink {
	publishFeedState(feed: FeedKey, state: FeedState): void
	publishDeviceState(device: string, state: DeviceState): void
	publishAlarm(alarm: Alarm): void
	/** the first full sync is done: retained state may be published from now on */
	markSynced(): void
}

export interface PublisherDeps {
	model: Model
	/** a feed's router has synced (its crosspoint is known): only then is its state retained on MQTT */
	feedStarted: (key: FeedKey) => boolean
	feedState: (key: FeedKey) => FeedState
	deviceState: (id: string) => DeviceState | undefined
}

export class Publisher {
	readonly events = new EventEmitter<DaemonEvents>()
	/** completed takes, newest last (for the status endpoint and benchmarks), at most MAX_TAKES */
	readonly takes: TakeTiming[] = []
	private sink: StateSink | undefined
	private readonly last = new Map<FeedKey, string>()
	/** feeds whose state the sink holds: a feed is retained only once its router has synced (docs/contract.md §6a) */
	private readonly retained = new Set<FeedKey>()
	private synced = false
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
	}

	/** The first full sync is done (or given up on): state is complete from now on. */
	get ready(): boolean {
		return this.synced
	}

	/** Publishes the feed if its state changed since it was last published. */
	feed(key: FeedKey): void {
		const state = this.d.feedState(key)
		const json = JSON.stringify(state)
		const changed = this.last.get(key) !== json
		const retain = this.sink !== undefined && this.d.feedStarted(key) && (changed || !this.retained.has(key))
		if (retain) {
			this.retained.add(key)
			this.sink!.publishFeedState(key, state)
		}
		if (!changed) return
		this.last.set(key, json)
		this.events.emit('feed', key, state)
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

	alarm(a: Alarm): void {
		this.sink?.publishAlarm(a)
		this.events.emit('alarm', a)
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
