// The live push channel: Server-Sent Events at /events, the telemetry hot path of the dashboard.
//
// Why SSE rather than WebSocket: the flow is one way (daemon -> screens), SSE is plain HTTP on the same server
// and port, EventSource reconnects by itself, and it needs no dependency or upgrade handshake. Commands go the other
// way as ordinary POSTs.
//
// Each client first gets a `snapshot` (the whole picture), then `feed`, `device`, `alarm` and `switch` events as
// the daemon emits them: one JSON.stringify per event, written to every client at once, with Nagle off so a change
// leaves in the same tick. A comment line every heartbeatMs keeps proxies and idle timeouts from closing the
// stream and lets a client notice a dead server. A client that stops reading is dropped (it reconnects and gets a
// fresh snapshot) rather than buffered without bound.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import type { Alarm, FeedState } from '../control/payloads.ts'
import type { FeedKey } from '../domain/model.ts'
import type { TakeTiming } from '../runtime/daemon.ts'
import { feedPush, snapshot, switchView, type StatusDaemon } from './view.ts'

export const MAX_SSE_CLIENTS = 64
/** bytes a client may have unread before it is dropped */
export const MAX_SSE_BACKLOG = 1024 * 1024
/** how often feeds are compared with their last push, for changes the daemon emits no event for */
export const SWEEP_MS = 250

type DeviceStateEvent = { connected: boolean; health: string; detail: Record<string, unknown> }

export class PushChannel {
	private readonly clients = new Set<ServerResponse>()
	private heartbeat: NodeJS.Timeout | undefined
	private seq = 0

	private ready = false
	/** what each feed's last push said (JSON of its FeedState) */
	private readonly lastFeed = new Map<FeedKey, string>()
	/** feeds whose paths go through a device (its `via`), or whose output is on it (a router) */
	private readonly feedsOfDevice = new Map<string, FeedKey[]>()
	private sweep: NodeJS.Timeout | undefined

	private readonly onFeed = (key: FeedKey, state: FeedState): void => {
		this.checkReady()
		this.lastFeed.set(key, JSON.stringify(state))
		this.broadcast('feed', feedPush(this.daemon, key, state))
	}

	/**
	 * The daemon emits `feed` only when the engine outputs something (a switch, an alarm); a signal change on a
	 * path that is not on air, or a class that changes on a timer (recovering -> healthy after clearMs), moves the
	 * feed's state without one. So after each device report the feeds that depend on the device are compared with
	 * what was last pushed, and a sweep every SWEEP_MS catches the timer-driven changes.
	 */
	private refresh(keys: Iterable<FeedKey>): void {
		for (const key of keys) {
			const state = this.daemon.feedState(key)
			const json = JSON.stringify(state)
			if (this.lastFeed.get(key) === json) continue
			this.lastFeed.set(key, json)
			this.onChange()
			this.broadcast('feed', feedPush(this.daemon, key, state))
		}
	}

	/** the daemon has no event for its first full sync: its first publication (every device's state, and feeds that changed) tells */
	private checkReady(): void {
		if (this.ready || !this.daemon.isReady()) return
		this.ready = true
		this.broadcast('ready', { ready: true })
	}
	private readonly onDevice = (id: string, s: DeviceStateEvent): void => {
		this.checkReady()
		this.refresh(this.feedsOfDevice.get(id) ?? [])
		const power = s.detail['power']
		const minutes = s.detail['minutesRemaining']
		this.broadcast('device', {
			id,
			connected: s.connected,
			health: s.health,
			power: typeof power === 'string' ? power : null,
			minutesRemaining: typeof minutes === 'number' ? minutes : null,
		})
	}
	private readonly onAlarm = (a: Alarm): void => this.broadcast('alarm', a)
	private readonly onSwitch = (t: TakeTiming): void => this.broadcast('switch', switchView(t))

	constructor(
		private readonly daemon: StatusDaemon,
		private readonly log: Logger,
		private readonly heartbeatMs: number,
		private readonly limits: { clients: number; backlogBytes: number } = {
			clients: MAX_SSE_CLIENTS,
			backlogBytes: MAX_SSE_BACKLOG,
		},
		/** called when a feed's state changed without a daemon event (the /status cache is then stale) */
		private readonly onChange: () => void = () => undefined,
	) {}

	get size(): number {
		return this.clients.size
	}

	start(): void {
		this.daemon.events.on('feed', this.onFeed)
		this.daemon.events.on('device', this.onDevice)
		this.daemon.events.on('alarm', this.onAlarm)
		this.daemon.events.on('switch', this.onSwitch)
		this.ready = this.daemon.isReady()
		for (const ref of this.daemon.model.feeds.values()) {
			const devices = new Set([ref.feed.output.router, ...ref.feed.paths.flatMap((p) => p.via)])
			for (const d of devices) this.feedsOfDevice.set(d, [...(this.feedsOfDevice.get(d) ?? []), ref.key])
			this.lastFeed.set(ref.key, JSON.stringify(this.daemon.feedState(ref.key)))
		}
		// also when no client listens: the /status cache learns of these changes here (onChange)
		this.sweep = setInterval(() => this.refresh(this.daemon.model.feeds.keys()), SWEEP_MS)
		this.heartbeat = setInterval(() => {
			this.checkReady()
			this.write(`: heartbeat ${new Date().toISOString()}\n\n`)
		}, this.heartbeatMs)
	}

	/** Takes over a GET /events response. Returns false when the channel is full (the caller answers 503). */
	accept(req: IncomingMessage, res: ServerResponse, headers: Record<string, string>): boolean {
		if (this.clients.size >= this.limits.clients) return false
		req.socket.setNoDelay(true)
		// no request timeout on a stream that is meant to stay open
		req.socket.setTimeout(0)
		res.writeHead(200, {
			...headers,
			'content-type': 'text/event-stream; charset=utf-8',
			'cache-control': 'no-store',
			'x-accel-buffering': 'no',
			connection: 'keep-alive',
		})
		this.clients.add(res)
		const drop = (): void => {
			this.clients.delete(res)
		}
		res.on('close', drop)
		res.on('error', (err) => {
			this.log.debug({ err }, 'sse client error')
			drop()
		})
		// `retry` tells EventSource how soon to reconnect after a drop
		res.write(`retry: 1000\n${this.frame('snapshot', snapshot(this.daemon))}`)
		return true
	}

	private frame(event: string, data: unknown): string {
		return `id: ${++this.seq}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`
	}

	private broadcast(event: string, data: unknown): void {
		if (this.clients.size === 0) return
		this.write(this.frame(event, data))
	}

	private write(chunk: string): void {
		for (const res of this.clients) {
			if (res.writableLength > this.limits.backlogBytes) {
				this.log.warn({ backlog: res.writableLength }, 'sse client does not read: dropped')
				this.clients.delete(res)
				res.destroy()
				continue
			}
			res.write(chunk)
		}
	}

	stop(): void {
		this.daemon.events.off('feed', this.onFeed)
		this.daemon.events.off('device', this.onDevice)
		this.daemon.events.off('alarm', this.onAlarm)
		this.daemon.events.off('switch', this.onSwitch)
		if (this.heartbeat) clearInterval(this.heartbeat)
		if (this.sweep) clearInterval(this.sweep)
		this.heartbeat = undefined
		this.sweep = undefined
		for (const res of this.clients) res.end()
		this.clients.clear()
	}
}
