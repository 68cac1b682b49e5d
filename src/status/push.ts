// The live push channel: Server-Sent Events at /events, the telemetry hot path of the dashboard.
//
// Why SSE rather than WebSocket: the flow is one way (daemon -> screens), SSE is plain HTTP on the same server
// and port, EventSource reconnects by itself, and it needs no dependency or upgrade handshake. Commands go the other
// way as ordinary POSTs.
//
// Each client first gets a `snapshot` (the whole picture, the active alarms with it), then `feed`, `device`, `alarm`
// (each raise, clear and acknowledgement, with its `state`), `switch`, `node` (a pair's node, docs/contract.md §9)
// and `facs` (a FACS tour's report, §10) events as the daemon's publisher emits them (it emits every change of a
// feed, including those a timer makes, so nothing here compares or sweeps): one JSON.stringify per event, written
// to every client at once, with Nagle off so a change leaves in the same tick. A comment line every heartbeatMs
// keeps proxies and idle timeouts from closing the stream and lets a client notice a dead server. A client that stops
// reading is dropped (it reconnects and gets a fresh snapshot) rather than buffered without bound.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import type { Alarm, FeedState } from '../control/payloads.ts'
import type { FeedKey } from '../domain/model.ts'
import type { FacsReport } from '../facs/report.ts'
import type { TakeTiming } from '../runtime/daemon.ts'
import type { NodeStatus } from '../runtime/ha/role.ts'
import type { FeedExtras } from '../runtime/publisher.ts'
import { feedPush, snapshot, switchView, type StatusDaemon } from './view.ts'

export const MAX_SSE_CLIENTS = 64
/** bytes a client may have unread before it is dropped */
export const MAX_SSE_BACKLOG = 1024 * 1024

type DeviceStateEvent = { connected: boolean; health: string; detail: Record<string, unknown> }

export class PushChannel {
	private readonly clients = new Set<ServerResponse>()
	private heartbeat: NodeJS.Timeout | undefined
	private seq = 0

	private ready = false

	private readonly onFeed = (key: FeedKey, state: FeedState, extras: FeedExtras): void =>
		this.broadcast('feed', feedPush(key, state, extras))

	/** the first full sync is done: a dashboard opened before it learns so */
	private readonly onReady = (): void => {
		if (this.ready) return
		this.ready = true
		this.broadcast('ready', { ready: true })
	}
	private readonly onDevice = (id: string, s: DeviceStateEvent): void => {
		const power = s.detail['power']
		const minutes = s.detail['minutesRemaining']
		const cause = s.detail['degraded']
		this.broadcast('device', {
			id,
			connected: s.connected,
			health: s.health,
			power: typeof power === 'string' ? power : null,
			minutesRemaining: typeof minutes === 'number' ? minutes : null,
			cause: typeof cause === 'string' ? cause : null,
		})
	}
	private readonly onFacs = (r: FacsReport): void => this.broadcast('facs', r)
	// a feed's badges come with it: the publisher sends the feed again on every alarm about it (publisher.ts)
	private readonly onAlarm = (a: Alarm): void => this.broadcast('alarm', a)
	private readonly onSwitch = (t: TakeTiming): void => this.broadcast('switch', switchView(t))
	private readonly onNode = (n: NodeStatus): void => this.broadcast('node', n)

	constructor(
		private readonly daemon: StatusDaemon,
		private readonly log: Logger,
		private readonly heartbeatMs: number,
		private readonly limits: { clients: number; backlogBytes: number } = {
			clients: MAX_SSE_CLIENTS,
			backlogBytes: MAX_SSE_BACKLOG,
		},
	) {}

	get size(): number {
		return this.clients.size
	}

	start(): void {
		this.daemon.events.on('feed', this.onFeed)
		this.daemon.events.on('device', this.onDevice)
		this.daemon.events.on('alarm', this.onAlarm)
		this.daemon.events.on('switch', this.onSwitch)
		this.daemon.events.on('ready', this.onReady)
		this.daemon.events.on('node', this.onNode)
		this.daemon.events.on('facs', this.onFacs)
		this.ready = this.daemon.isReady()
		this.heartbeat = setInterval(() => {
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
		this.daemon.events.off('ready', this.onReady)
		this.daemon.events.off('node', this.onNode)
		this.daemon.events.off('facs', this.onFacs)
		if (this.heartbeat) clearInterval(this.heartbeat)
		this.heartbeat = undefined
		for (const res of this.clients) res.end()
		this.clients.clear()
	}
}
