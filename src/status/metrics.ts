// GET /metrics (Prometheus text format, prom-client). State gauges are read from the daemon at scrape time, so a
// scrape always agrees with /status; counters and the take-latency histogram are fed by the daemon's events.
// A registry of our own (not prom-client's global one): two servers in one process (tests) do not collide, and
// stop() leaves nothing registered.
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import { listFiles } from '../journal/scan.ts'
import type { Alarm } from '../control/payloads.ts'
import type { FeedKey } from '../domain/model.ts'
import type { TakeTiming } from '../runtime/daemon.ts'
import type { StatusDaemon } from './view.ts'

const PATH_STATES = ['healthy', 'recovering', 'degraded', 'ineligible', 'failed'] as const
const HEALTHS = ['ok', 'degraded', 'down', 'unknown'] as const
const POWERS = ['online', 'on-battery', 'low-battery', 'bypass', 'off'] as const
/** signal as a number: down 0, degraded 1, up 2, not reported -1 */
const SIGNAL_VALUE = { down: 0, degraded: 1, up: 2 } as const

export class StatusMetrics {
	readonly registry = new Registry()
	private readonly loop: IntervalHistogram
	private readonly switches: Counter<'event' | 'feed' | 'cause'>
	private readonly takeLatency: Histogram<'cause'>
	private readonly alarms: Counter<'code' | 'severity'>
	readonly httpRequests: Counter<'route' | 'code'>
	private readonly onSwitch = (t: TakeTiming): void => {
		const [event = '', feed = ''] = t.feed.split('/')
		this.switches.inc({ event, feed, cause: t.cause })
		this.takeLatency.observe({ cause: t.cause }, Math.max(0, t.confirmedAt - t.sentAt) / 1000)
	}
	private readonly onAlarm = (a: Alarm): void => {
		// raises and clears (severity `cleared`); an acknowledgement is neither
		if (a.state === 'acknowledged') return
		this.alarms.inc({ code: a.code, severity: a.severity })
	}

	constructor(
		private readonly daemon: StatusDaemon,
		sseClients: () => number,
	) {
		const r = [this.registry]
		// 10 ms resolution: fine enough to see a blocked loop, cheap enough to leave on
		this.loop = monitorEventLoopDelay({ resolution: 10 })
		this.loop.enable()
		const feeds = (): { event: string; feed: string; key: FeedKey }[] =>
			[...daemon.model.feeds.values()].map((f) => ({ event: f.event.id, feed: f.feed.id, key: f.key }))

		new Gauge({
			name: 'sigpath_path_signal',
			help: "a path's signal: 2 up, 1 degraded, 0 down, -1 not reported",
			labelNames: ['event', 'feed', 'path'],
			registers: r,
			collect() {
				this.reset()
				for (const f of feeds()) {
					const st = daemon.feedState(f.key)
					for (const [path, p] of Object.entries(st.paths))
						this.set({ event: f.event, feed: f.feed, path }, p.signal === null ? -1 : SIGNAL_VALUE[p.signal])
				}
			},
		})
		new Gauge({
			name: 'sigpath_path_state',
			help: "a path's class (docs/contract.md §4): 1 for its current state, 0 for the others",
			labelNames: ['event', 'feed', 'path', 'state'],
			registers: r,
			collect() {
				this.reset()
				for (const f of feeds())
					for (const [path, p] of Object.entries(daemon.feedState(f.key).paths))
						for (const s of PATH_STATES)
							this.set({ event: f.event, feed: f.feed, path, state: s }, p.state === s ? 1 : 0)
			},
		})
		new Gauge({
			name: 'sigpath_path_active',
			help: "1 for the path on air (the router's tally when known), 0 for the others",
			labelNames: ['event', 'feed', 'path'],
			registers: r,
			collect() {
				this.reset()
				for (const f of feeds()) {
					const st = daemon.feedState(f.key)
					for (const path of Object.keys(st.paths))
						this.set({ event: f.event, feed: f.feed, path }, st.active === path ? 1 : 0)
				}
			},
		})
		new Gauge({
			name: 'sigpath_feed_auto',
			help: '1 when the feed is in auto mode, 0 in manual',
			labelNames: ['event', 'feed'],
			registers: r,
			collect() {
				this.reset()
				for (const f of feeds())
					this.set({ event: f.event, feed: f.feed }, daemon.feedState(f.key).mode === 'auto' ? 1 : 0)
			},
		})
		new Gauge({
			name: 'sigpath_feed_locked',
			help: '1 when the feed is locked',
			labelNames: ['event', 'feed'],
			registers: r,
			collect() {
				this.reset()
				for (const f of feeds()) this.set({ event: f.event, feed: f.feed }, daemon.feedState(f.key).locked ? 1 : 0)
			},
		})
		new Gauge({
			name: 'sigpath_feed_compliant',
			help: '1 when the feed meets the contribution rule with enough healthy discrete paths',
			labelNames: ['event', 'feed'],
			registers: r,
			collect() {
				this.reset()
				for (const f of feeds())
					this.set({ event: f.event, feed: f.feed }, daemon.feedState(f.key).compliance.compliant ? 1 : 0)
			},
		})
		new Gauge({
			name: 'sigpath_feed_healthy_discrete_paths',
			help: 'healthy discrete paths of the feed (compare with sigpath_feed_required_paths)',
			labelNames: ['event', 'feed'],
			registers: r,
			collect() {
				this.reset()
				for (const f of feeds())
					this.set({ event: f.event, feed: f.feed }, daemon.feedState(f.key).compliance.healthyDiscretePaths)
			},
		})
		new Gauge({
			name: 'sigpath_feed_required_paths',
			help: 'paths the contribution rule requires of the feed (0: not critical)',
			labelNames: ['event', 'feed'],
			registers: r,
			collect() {
				this.reset()
				for (const f of feeds()) this.set({ event: f.event, feed: f.feed }, daemon.feedState(f.key).compliance.required)
			},
		})
		new Gauge({
			name: 'sigpath_feed_alarm',
			help: '1 for each alarm the engine holds active on the feed (no-path, no-signal, at-risk...)',
			labelNames: ['event', 'feed', 'alarm'],
			registers: r,
			collect() {
				this.reset()
				for (const f of feeds())
					for (const a of daemon.feedAlarms(f.key)) this.set({ event: f.event, feed: f.feed, alarm: a }, 1)
			},
		})
		const devices = (): { id: string; s: ReturnType<StatusDaemon['deviceState']> }[] =>
			daemon.status().devices.map((d) => ({ id: d.id, s: daemon.deviceState(d.id) }))
		new Gauge({
			name: 'sigpath_device_connected',
			help: '1 when the control connection to the device is up; devices without a driver are not listed',
			labelNames: ['device'],
			registers: r,
			collect() {
				this.reset()
				for (const { id, s } of devices()) if (s) this.set({ device: id }, s.connected ? 1 : 0)
			},
		})
		new Gauge({
			name: 'sigpath_device_health',
			help: "the device's health: 1 for its current value, 0 for the others",
			labelNames: ['device', 'health'],
			registers: r,
			collect() {
				this.reset()
				for (const { id, s } of devices())
					if (s) for (const h of HEALTHS) this.set({ device: id, health: h }, s.health === h ? 1 : 0)
			},
		})
		new Gauge({
			name: 'sigpath_device_power',
			help: "a UPS's power state: 1 for its current value, 0 for the others",
			labelNames: ['device', 'power'],
			registers: r,
			collect() {
				this.reset()
				for (const { id, s } of devices()) {
					const p = s?.detail['power']
					if (typeof p === 'string') for (const v of POWERS) this.set({ device: id, power: v }, p === v ? 1 : 0)
				}
			},
		})
		this.switches = new Counter({
			name: 'sigpath_switches_total',
			help: 'takes confirmed on the router tally, by cause (failover, revert, take)',
			labelNames: ['event', 'feed', 'cause'],
			registers: r,
		})
		this.takeLatency = new Histogram({
			name: 'sigpath_take_latency_seconds',
			help: "from the routing request sent to the router's tally confirming it",
			labelNames: ['cause'],
			buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
			registers: r,
		})
		this.alarms = new Counter({
			name: 'sigpath_alarms_total',
			help: 'alarms raised and cleared, by code and severity',
			labelNames: ['code', 'severity'],
			registers: r,
		})
		this.httpRequests = new Counter({
			name: 'sigpath_http_requests_total',
			help: 'requests to the status endpoint by route and status code',
			labelNames: ['route', 'code'],
			registers: r,
		})
		const loop = this.loop
		new Gauge({
			name: 'sigpath_event_loop_delay_seconds',
			help: 'event-loop delay since the previous scrape (monitorEventLoopDelay, 10 ms resolution)',
			labelNames: ['quantile'],
			registers: r,
			collect() {
				this.reset()
				if (loop.count > 0) {
					this.set({ quantile: '0.5' }, loop.percentile(50) / 1e9)
					this.set({ quantile: '0.99' }, loop.percentile(99) / 1e9)
					this.set({ quantile: '1' }, loop.max / 1e9)
				}
				loop.reset()
			},
		})
		new Gauge({
			name: 'sigpath_ready',
			help: '1 once every device has been through its first sync (as /readyz)',
			registers: r,
			collect() {
				this.set(daemon.isReady() ? 1 : 0)
			},
		})
		new Gauge({
			name: 'sigpath_sse_clients',
			help: 'dashboards and other clients connected to /events',
			registers: r,
			collect() {
				this.set(sseClients())
			},
		})
		new Gauge({
			name: 'sigpath_journal_bytes',
			help: "bytes in the journal directory's files",
			registers: r,
			collect() {
				let bytes = 0
				for (const f of listFiles(daemon.journalDir)) bytes += statSize(join(daemon.journalDir, f))
				this.set(bytes)
			},
		})
		new Gauge({
			name: 'sigpath_journal_files',
			help: 'journal files (rotation)',
			registers: r,
			collect() {
				this.set(listFiles(daemon.journalDir).length)
			},
		})
		// controller redundancy (docs/contract.md §9): this node's role, and the active's own lease by its own clock
		new Gauge({
			name: 'sigpath_ha_role',
			help: "this node's role: 1 for the role it has (active, standby, or alone without ha), 0 for the others",
			labelNames: ['role'],
			registers: r,
			collect() {
				const role = daemon.status().node.role
				for (const x of ['active', 'standby', 'alone']) this.set({ role: x }, x === role ? 1 : 0)
			},
		})
		new Gauge({
			name: 'sigpath_ha_lease_remaining_seconds',
			help: "the active node's lease left by its own clock (the fence); 0 on a standby or alone",
			registers: r,
			collect() {
				this.set((daemon.status().node.leaseRemainingMs ?? 0) / 1000)
			},
		})
		new Gauge({
			name: 'process_resident_memory_bytes',
			help: 'resident memory size in bytes',
			registers: r,
			collect() {
				this.set(process.memoryUsage.rss())
			},
		})
		daemon.events.on('switch', this.onSwitch)
		daemon.events.on('alarm', this.onAlarm)
	}

	text(): Promise<string> {
		return this.registry.metrics()
	}

	get contentType(): string {
		return this.registry.contentType
	}

	stop(): void {
		this.daemon.events.off('switch', this.onSwitch)
		this.daemon.events.off('alarm', this.onAlarm)
		this.loop.disable()
		this.registry.clear()
	}
}

function statSize(file: string): number {
	try {
		return statSync(file).size
	} catch (err) {
		// a file rotated away between the listing and the stat: it no longer counts
		if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0
		throw err
	}
}
