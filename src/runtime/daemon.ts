// The daemon: the only place that knows all the parts. Data flows one way (architecture.md):
//   driver events -> observations -> engine -> decisions -> router take -> tally confirms -> journal -> publishers
//
// Restart safety (contract §4 "Start"): nothing here sends a routing request of its own accord. At start each
// router's real crosspoints are read first and become the feeds' start paths; mode and lock come back from the
// journal; every signal is "not yet reported". Takes are sent only for engine decisions (failover, revert, an
// operator's take) and always confirmed on the router's own tally.
import { createHash } from 'node:crypto'
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import { monotonicMs } from '../clock.ts'
import { createRouter, type Router } from '../../drivers/router/index.ts'
import type { TrapReceiver } from '../../drivers/snmp/index.ts'
import { observation as upsObservation, upsProbeResult, type UpsDevice } from '../../drivers/ups/index.ts'
import { RouterError, type Crosspoint, type RouterErrorCode, type TakeResult } from '../../drivers/router/types.ts'
import { startEmbeddedBroker, type EmbeddedBroker } from '../control/broker.ts'
import { MidiMapper, openMidiPort, type MidiPort } from '../control/midi.ts'
import { MqttControl, type Operator } from '../control/mqtt.ts'
import type { Alarm as MqttAlarm, CommandResult, FeedState, SetCommand } from '../control/payloads.ts'
import type { Config } from '../domain/config.ts'
import { buildModel, type FeedKey, type FeedRef, type Model } from '../domain/model.ts'
import { splitListen } from '../domain/primitives.ts'
import { resolveSecret } from '../domain/secrets.ts'
import { Engine } from '../engine/engine.ts'
import type { Decision, Observation, Output } from '../engine/types.ts'
import {
	entriesFor,
	entriesForOutput,
	Journal,
	readRecords,
	recoverFeeds,
	type Entry,
	type FeedState as Recovered,
} from '../journal/index.ts'
import { liveConfig, powerReport, type PowerReport } from '../domain/power.ts'
import { judge } from '../rule/index.ts'
import { createDrivers } from './adapters.ts'
import type { SignalSource } from './devices.ts'
import { feedState, mqttAlarm, severityOf } from './state.ts'

export const VERSION = '0.1.0'

export interface DaemonOptions {
	config: Config
	/** the config file's text, hashed into the boot record so an incident is replayed against its config */
	configText?: string
	log: Logger
	env?: NodeJS.ProcessEnv
	/**
	 * Signal and UPS devices. Absent: made from the config's drivers (SRT receivers, SNMP signal devices, UPS over
	 * SNMP, NUT and Megatec). Tests pass their own.
	 */
	signalSources?: SignalSource[]
	upsDevices?: UpsDevice[]
	/** how long the first publication waits for devices that never sync */
	firstSyncTimeoutMs?: number
	/** router take timeout (ms) */
	takeTimeoutMs?: number
}

export interface TakeTiming {
	feed: FeedKey
	from: string
	to: string
	cause: string
	/** engine t of the decision */
	t: number
	/** monotonic ms: request out, tally confirmed */
	sentAt: number
	confirmedAt: number
}

export interface DaemonEvents {
	/** a feed's published state changed */
	feed: [FeedKey, FeedState]
	/** a device's state changed */
	device: [string, { connected: boolean; health: string; detail: Record<string, unknown> }]
	alarm: [MqttAlarm]
	/** a take confirmed on the router's tally */
	switch: [TakeTiming]
	/** the first full sync is done and state is published (READY=1) */
	ready: []
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
	devices: { id: string; role: string; connected: boolean | null; health: string }[]
}

type Phase = 'created' | 'starting' | 'running' | 'stopping' | 'stopped'

export class Daemon {
	readonly model: Model
	readonly engine: Engine
	private readonly log: Logger
	private readonly env: NodeJS.ProcessEnv
	private journal: Journal | undefined
	private readonly routers = new Map<string, Router>()
	private readonly sources: SignalSource[]
	private readonly ups: UpsDevice[]
	private readonly traps: TrapReceiver | null
	private power: PowerReport | undefined
	/** power alarms raised and not yet cleared: `device:code` and `feed:at-risk` */
	private readonly powerAlarms = new Set<string>()
	private control: MqttControl | undefined
	private broker: EmbeddedBroker | undefined
	private bootMono = 0
	private lastT = 0
	private timer: NodeJS.Timeout | undefined
	private timerAt: number | undefined
	private firstSyncTimer: NodeJS.Timeout | undefined
	private phase: Phase = 'created'
	private published = false
	private journalFailed = false
	private recovered = new Map<string, Recovered>()
	private readonly started = new Set<FeedKey>()
	private readonly feedChains = new Map<FeedKey, Promise<unknown>>()
	private readonly pathByInput = new Map<FeedKey, Map<number, string>>()
	private readonly feedsByRouter = new Map<string, FeedRef[]>()
	private readonly staticCompliant = new Map<FeedKey, boolean>()
	/** the rule's violations per feed: from the config at start, then live, as the power model changes */
	private readonly violations: Map<string, ReturnType<typeof judge>['feeds'][number]['violations']>
	/** paths whose take failed: reported down by the runtime until the router syncs again */
	private readonly unroutable = new Map<FeedKey, Set<string>>()
	private readonly lastState = new Map<FeedKey, string>()
	private readonly feedsOfDevice = new Map<string, FeedKey[]>()
	private republishTimer: NodeJS.Timeout | undefined
	/** what the status endpoint, metrics and the dashboard's push channel listen to */
	readonly events = new EventEmitter<DaemonEvents>()
	private readonly startedAt = Date.now()
	/** completed takes, for benchmarks and the status endpoint */
	readonly takes: TakeTiming[] = []

	constructor(private readonly o: DaemonOptions) {
		this.log = o.log
		this.env = o.env ?? process.env
		this.model = buildModel(o.config)
		this.engine = new Engine(this.model, { pending: this.model.feeds.keys() })
		if (o.signalSources !== undefined || o.upsDevices !== undefined) {
			this.sources = o.signalSources ?? []
			this.ups = o.upsDevices ?? []
			this.traps = null
		} else {
			const drivers = createDrivers(o.config, { log: this.log, env: this.env })
			this.sources = drivers.sources
			this.ups = drivers.ups
			this.traps = drivers.traps
		}
		const report = judge(o.config)
		for (const f of report.feeds) this.staticCompliant.set(`${f.event}/${f.feed}`, f.compliant)
		// the config does not change under a Daemon: judged once, not on every GET /status (ms with a hundred feeds)
		this.violations = new Map(report.feeds.map((f) => [`${f.event}/${f.feed}`, f.violations]))
		for (const ref of this.model.feeds.values()) {
			const byInput = new Map<number, string>()
			for (const p of ref.feed.paths) byInput.set(p.input.input, p.id)
			this.pathByInput.set(ref.key, byInput)
			for (const dev of new Set([...ref.feed.paths.flatMap((p) => p.via), ref.feed.output.router])) {
				const feeds = this.feedsOfDevice.get(dev) ?? []
				feeds.push(ref.key)
				this.feedsOfDevice.set(dev, feeds)
			}
			const list = this.feedsByRouter.get(ref.feed.output.router) ?? []
			list.push(ref)
			this.feedsByRouter.set(ref.feed.output.router, list)
		}
	}

	/** Engine time: integer ms since boot, never decreasing. */
	now(): number {
		const t = Math.max(this.lastT, Math.floor(monotonicMs() - this.bootMono))
		this.lastT = t
		return t
	}

	/** A driver's monotonic timestamp as engine time, no later than now. */
	private toEngineT(mono: number, now: number): number {
		return Math.min(now, Math.max(0, Math.floor(mono - this.bootMono)))
	}

	isReady(): boolean {
		return this.published
	}

	/** the journal directory (for /audit) */
	get journalDir(): string {
		return this.o.config.journal?.dir ?? '/var/lib/sigpath'
	}

	/** GET /status (contract §6). */
	status(): StatusReport {
		const violations = this.violations
		return {
			site: this.o.config.site.id,
			version: VERSION,
			uptimeS: Math.floor((Date.now() - this.startedAt) / 1000),
			feeds: [...this.model.feeds.values()].map((ref) => {
				const st = this.feedState(ref.key)
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
					alarms: this.feedAlarms(ref.key),
					paths: ref.ranked.map((p) => ({
						id: p.id,
						method: p.method,
						signal: st.paths[p.id]?.signal ?? null,
						state: st.paths[p.id]?.state ?? 'ineligible',
					})),
					compliance: { ...st.compliance, violations: violations.get(ref.key) ?? [] },
				}
			}),
			devices: this.o.config.devices.map((d) => {
				const s = this.deviceState(d.id)
				return { id: d.id, role: d.role, connected: s?.connected ?? null, health: s?.health ?? 'unknown' }
			}),
		}
	}

	routerOf(id: string): Router | undefined {
		return this.routers.get(id)
	}

	async start(): Promise<void> {
		if (this.phase !== 'created') throw new Error('the daemon starts once')
		this.phase = 'starting'
		const cfg = this.o.config
		const dir = cfg.journal?.dir ?? '/var/lib/sigpath'
		this.journal = Journal.open({ dir, ...(cfg.journal?.rotateBytes ? { rotateBytes: cfg.journal.rotateBytes } : {}) })
		const rep = this.journal.report
		if (rep.torn) this.log.warn({ torn: rep.torn }, 'journal: a torn tail was cut at start')
		if (rep.broken.length > 0) this.log.error({ broken: rep.broken.slice(0, 5) }, 'journal: the chain is broken')
		this.recovered = recoverFeeds(readRecords(dir))
		this.bootMono = monotonicMs()
		this.lastT = 0
		void this.write([
			{
				kind: 'boot',
				payload: {
					version: VERSION,
					pid: process.pid,
					mono: this.bootMono,
					...(this.o.configText !== undefined
						? { config: createHash('sha256').update(this.o.configText).digest('hex') }
						: {}),
				},
			},
		])

		await this.startControl()
		await this.startMidi()

		for (const d of cfg.devices) {
			if (d.role !== 'router' || !d.driver) continue
			const router = createRouter(
				d,
				{ log: this.log },
				{ ...(this.o.takeTimeoutMs ? { takeTimeoutMs: this.o.takeTimeoutMs } : {}) },
			)
			this.routers.set(d.id, router)
			router.on('synced', () => this.onRouterSynced(d.id))
			router.on('crosspoint', (e) => this.onCrosspoint(d.id, e))
			router.on('connection', (e) => {
				this.publishDevice(d.id)
				if (!e.connected) this.log.warn({ router: d.id, state: e.state, reason: e.reason }, 'router link down')
			})
			router.on('freshness', () => this.publishDevice(d.id))
			router.on('lock', () => this.publishDevice(d.id))
		}
		for (const [routerId, refs] of this.feedsByRouter)
			if (!this.routers.has(routerId))
				for (const r of refs)
					this.log.warn(
						{ feed: r.key, router: routerId },
						"the feed's router has no driver: sigpath does not control it",
					)
		for (const src of this.sources) {
			src.on('signal', (e) => this.onDeviceSignal(src.deviceId, e.state, e.at, e.reason))
			src.on('synced', () => this.checkFirstSync())
			src.on('status', () => this.publishDevice(src.deviceId))
		}
		for (const u of this.ups) {
			u.on('power', () => this.onPower())
			u.on('reading', () => this.publishDevice(u.id))
			u.on('freshness', () => this.publishDevice(u.id))
			u.on('synced', () => {
				this.onPower()
				this.checkFirstSync()
			})
		}
		if (this.traps) await this.traps.start()
		this.phase = 'running'
		for (const r of this.routers.values()) r.start()
		for (const s of this.sources) s.start()
		for (const u of this.ups) u.start()
		this.firstSyncTimer = setTimeout(() => {
			this.firstSyncTimer = undefined
			if (!this.published) {
				const waiting = [...this.routers.values()].filter((r) => !r.isSynced()).map((r) => r.deviceId)
				waiting.push(...this.sources.filter((s) => !s.isSynced()).map((s) => s.deviceId))
				waiting.push(...this.ups.filter((u) => !u.synced).map((u) => u.id))
				this.log.warn({ waiting }, 'first sync incomplete: publishing state without these devices')
				this.publishAll()
			}
		}, this.o.firstSyncTimeoutMs ?? 10_000)
		this.checkFirstSync()
	}

	/** Alive and able to act: running, and the journal takes records (a daemon that cannot journal must not act). */
	healthy(): boolean {
		return this.phase === 'running' && !this.journalFailed
	}

	/** `keepOnline` (a reload): the MQTT client leaves without publishing online=false; the next one takes over. */
	async stop(reason = 'stop', options: { keepOnline?: boolean } = {}): Promise<void> {
		if (this.phase === 'stopping' || this.phase === 'stopped') return
		this.phase = 'stopping'
		this.log.info({ reason }, 'stopping')
		if (this.timer) clearTimeout(this.timer)
		if (this.firstSyncTimer) clearTimeout(this.firstSyncTimer)
		if (this.republishTimer) clearTimeout(this.republishTimer)
		this.republishTimer = undefined
		this.timer = undefined
		this.firstSyncTimer = undefined
		// in-flight takes settle (confirmed or not) before the routers go: their outcome belongs in the journal
		await Promise.allSettled([...this.feedChains.values()])
		await this.control
			?.stop({ offline: !options.keepOnline })
			.catch((err: unknown) => this.log.warn({ err }, 'mqtt stop failed'))
		await Promise.allSettled([...this.routers.values()].map((r) => r.stop()))
		await Promise.allSettled(this.sources.map((s) => s.stop()))
		await Promise.allSettled(this.ups.map((u) => u.stop()))
		await this.traps?.stop()
		await this.broker?.close().catch((err: unknown) => this.log.warn({ err }, 'embedded broker close failed'))
		if (this.journal) {
			await this.write([{ kind: 'shutdown' as Entry['kind'], payload: { reason } } as unknown as Entry])
			await this.journal.close()
		}
		this.phase = 'stopped'
	}

	// ---- commands (MQTT, HTTP, MIDI) -------------------------------------------------------------------------------

	/** An operator command: journaled with its operator and result; a take resolves once the router confirms. */
	async command(
		feed: FeedKey,
		cmd: SetCommand,
		operator: Operator | { name: string; via: string },
	): Promise<CommandResult> {
		if (this.phase !== 'running') return { ok: false, error: 'the daemon is not running' }
		if (!this.model.feeds.has(feed)) return { ok: false, error: `unknown feed ${feed}` }
		if (!this.started.has(feed))
			return { ok: false, error: `feed ${feed} has not started: its router has not reported its crosspoints yet` }
		const obs: Observation = {
			type: 'command',
			t: this.now(),
			feed,
			command: cmd.action,
			...(cmd.path !== undefined ? { path: cmd.path } : {}),
			...(cmd.force ? { force: true } : {}),
			operator: operator.name,
		}
		const { outputs, durable } = this.apply(obs, operator.via)
		const refusal = outputs.find((o) => o.kind === 'refusal' && o.feed === feed)
		await durable
		if (refusal?.kind === 'refusal') return { ok: false, error: refusal.message }
		const decision = outputs.find((o): o is Decision => o.kind === 'decision' && o.feed === feed)
		if (decision) {
			const r = await (this.feedChains.get(feed) ?? Promise.resolve(undefined))
			if (r !== true) return { ok: false, error: `the router did not confirm the take of ${decision.to}` }
		}
		return { ok: true }
	}

	// ---- the engine loop ---------------------------------------------------------------------------------------------

	private apply(obs: Observation, via?: string): { outputs: Output[]; durable: Promise<unknown> } {
		const outputs = this.engine.apply(obs)
		const entries = entriesFor(obs, outputs, via)
		const durable = this.write(entries)
		this.handle(outputs)
		this.schedule()
		// a report can change a path's signal or class without any decision: its feeds' published state follows
		if (obs.type === 'device') for (const f of this.feedsOfDevice.get(obs.device) ?? []) this.publishFeed(f)
		else if (obs.type !== 'start') this.publishFeed(obs.feed)
		return { outputs, durable }
	}

	/**
	 * Timers change classes too (failed after lossMs, healthy after clearMs) with no output to say which feeds:
	 * republish them all, at most every 20 ms (publishFeed sends only what changed).
	 */
	private republishSoon(): void {
		if (this.republishTimer || this.phase !== 'running') return
		this.republishTimer = setTimeout(() => {
			this.republishTimer = undefined
			if (this.phase !== 'running') return
			for (const key of this.model.feeds.keys()) this.publishFeed(key)
		}, 20)
	}

	private onTimer = (): void => {
		this.timer = undefined
		this.timerAt = undefined
		if (this.phase !== 'running') return
		const outputs = this.engine.advance(this.now())
		void this.write(outputs.flatMap(entriesForOutput))
		this.handle(outputs)
		this.schedule()
		this.republishSoon()
	}

	private schedule(): void {
		const due = this.engine.nextDeadline()
		if (due === undefined || this.phase !== 'running') return
		if (this.timer && this.timerAt === due) return
		if (this.timer) clearTimeout(this.timer)
		this.timerAt = due
		// a deadline is an absolute engine time; setTimeout is relative and may fire a little late, never early
		// enough to matter: advance(t) fires each timer at its own instant whatever the lateness
		this.timer = setTimeout(this.onTimer, Math.max(0, due - (monotonicMs() - this.bootMono)))
	}

	private handle(outputs: readonly Output[]): void {
		const touched = new Set<FeedKey>()
		for (const o of outputs) {
			touched.add(o.feed)
			switch (o.kind) {
				case 'decision':
					this.log.info({ feed: o.feed, from: o.from, to: o.to, cause: o.cause, t: o.t }, 'switch')
					this.executeTake(o)
					break
				case 'alarm':
					this.log[o.active ? 'warn' : 'info']({ feed: o.feed, alarm: o.alarm, active: o.active }, o.message)
					{
						const a = mqttAlarm(o, new Date())
						this.control?.publishAlarm(a)
						this.events.emit('alarm', a)
					}
					break
				case 'suppressed':
					this.log.info({ feed: o.feed, to: o.to, because: o.because }, 'switch suppressed (rule 4)')
					break
				default:
					break
			}
		}
		for (const f of touched) this.publishFeed(f)
	}

	private write(entries: readonly Entry[]): Promise<unknown> {
		const j = this.journal
		if (!j || entries.length === 0) return Promise.resolve()
		const all = entries.map((e) =>
			j.append(e.kind, e.payload).catch((err: unknown) => {
				this.journalFailed = true
				this.log.fatal({ err, kind: e.kind }, 'journal append failed')
				throw err
			}),
		)
		return Promise.all(all)
	}

	// ---- takes ---------------------------------------------------------------------------------------------------------

	private executeTake(d: Decision): void {
		const ref = this.model.feeds.get(d.feed)!
		const path = ref.feed.paths.find((p) => p.id === d.to)!
		const router = this.routers.get(ref.feed.output.router)
		const out = ref.feed.output.output
		const input = path.input.input
		const chain = (this.feedChains.get(d.feed) ?? Promise.resolve()).then(async (): Promise<boolean> => {
			const base = { feed: d.feed, path: d.to, router: ref.feed.output.router, output: out, input }
			if (!router) {
				void this.write([
					{ kind: 'take', payload: { t: this.now(), ...base, result: 'failed', error: 'the router has no driver' } },
				])
				this.raise(
					'take-unconfirmed',
					d.feed,
					`cannot switch ${d.feed} to ${d.to}: router ${ref.feed.output.router} has no driver`,
				)
				return false
			}
			void this.write([{ kind: 'take', payload: { t: this.now(), ...base, result: 'sent' } }])
			let lastErr: unknown
			for (let attempt = 1; attempt <= 2; attempt++) {
				try {
					// the first attempt joins the router's batch (a salvo when several feeds switch in the same tick)
					const r =
						attempt === 1
							? await this.batchedTake(ref.feed.output.router, router, out, input)
							: await router.take(out, input)
					const timing: TakeTiming = {
						feed: d.feed,
						from: d.from,
						to: d.to,
						cause: d.cause,
						t: d.t,
						sentAt: r.sentAt,
						confirmedAt: r.confirmedAt,
					}
					this.takes.push(timing)
					if (this.takes.length > 10_000) this.takes.splice(0, 5_000)
					this.events.emit('switch', timing)
					void this.write([{ kind: 'take', payload: { t: this.now(), ...base, result: 'confirmed' } }])
					this.clearUnroutable(d.feed, d.to)
					this.log.info(
						{ feed: d.feed, to: d.to, ms: +(r.confirmedAt - r.sentAt).toFixed(2), already: r.already },
						'take confirmed',
					)
					return true
				} catch (err) {
					lastErr = err
					const code: RouterErrorCode | undefined = err instanceof RouterError ? err.code : undefined
					if (code === 'superseded' || code === 'stopped') return false
					const retriable = code === 'timeout' || code === 'nak' || code === 'disconnected' || code === 'refused'
					this.log.warn({ feed: d.feed, to: d.to, attempt, code, err: (err as Error).message }, 'take not confirmed')
					if (!retriable || attempt === 2) break
				}
			}
			const msg = lastErr instanceof Error ? lastErr.message : String(lastErr)
			void this.write([{ kind: 'take', payload: { t: this.now(), ...base, result: 'unconfirmed', error: msg } }])
			this.raise(
				'take-unconfirmed',
				d.feed,
				`switching ${d.feed} to ${d.to} was not confirmed by ${ref.feed.output.router}: ${msg}`,
			)
			this.markUnroutable(d.feed, d.to)
			return false
		})
		this.feedChains.set(d.feed, chain)
	}

	private readonly takeBatches = new Map<
		string,
		{ take: Crosspoint; resolve: (r: TakeResult) => void; reject: (e: unknown) => void }[]
	>()

	/**
	 * Takes asked for in the same tick go to each router as one salvo (a Videohub block, a burst of SW-P-08 frames):
	 * when a device failure takes down a path of many feeds at once, every backup goes on air together instead of
	 * one round trip after another. Each take still settles on its own tally.
	 */
	private batchedTake(routerId: string, router: Router, output: number, input: number): Promise<TakeResult> {
		return new Promise<TakeResult>((resolve, reject) => {
			let batch = this.takeBatches.get(routerId)
			if (!batch) {
				batch = []
				this.takeBatches.set(routerId, batch)
				queueMicrotask(() => {
					const items = this.takeBatches.get(routerId) ?? []
					this.takeBatches.delete(routerId)
					if (items.length === 1) {
						router.take(items[0]!.take.output, items[0]!.take.input).then(items[0]!.resolve, items[0]!.reject)
						return
					}
					router.salvo(items.map((i) => i.take)).then(
						(outcomes) =>
							outcomes.forEach((o, k) => {
								const item = items[k]!
								if (o.ok) item.resolve(o.result)
								else item.reject(o.error)
							}),
						(err: unknown) => {
							for (const item of items) item.reject(err)
						},
					)
				})
			}
			batch.push({ take: { output, input }, resolve, reject })
		})
	}

	/**
	 * A path the router would not take is reported down by the runtime's own per-path source, so that the engine
	 * moves on to the next candidate once it has failed (lossMs); withdrawn when the router takes it or re-syncs.
	 */
	private markUnroutable(feed: FeedKey, path: string): void {
		const set = this.unroutable.get(feed) ?? new Set()
		if (set.has(path) || this.phase !== 'running') return
		set.add(path)
		this.unroutable.set(feed, set)
		this.apply({ type: 'signal', t: this.now(), feed, path, signal: 'down' }, 'runtime')
	}

	private clearUnroutable(feed: FeedKey, path: string): void {
		const set = this.unroutable.get(feed)
		if (!set?.delete(path) || this.phase !== 'running') return
		this.apply({ type: 'signal', t: this.now(), feed, path, signal: 'unknown' }, 'runtime')
	}

	// ---- routers -------------------------------------------------------------------------------------------------------

	private onRouterSynced(routerId: string): void {
		if (this.phase !== 'running') return
		const router = this.routers.get(routerId)!
		const t = this.now()
		for (const ref of this.feedsByRouter.get(routerId) ?? []) {
			const out = ref.feed.output.output
			const input = router.routing().get(out)
			const path = input !== undefined ? this.pathByInput.get(ref.key)?.get(input) : undefined
			if (!this.started.has(ref.key)) {
				this.startFeed(ref, path, input, t)
				continue
			}
			// a re-sync: paths marked unroutable get their chance again; a crosspoint changed while we were away is
			// another controller's doing
			for (const p of [...(this.unroutable.get(ref.key) ?? [])]) this.clearUnroutable(ref.key, p)
			const active = this.engine.feedSnapshot(ref.key).active
			if (path !== active) this.externalChange(ref, path, input)
		}
		this.publishDevice(routerId)
		this.checkFirstSync()
	}

	private startFeed(ref: FeedRef, path: string | undefined, input: number | undefined, t: number): void {
		const rec = this.recovered.get(ref.key)
		let mode = rec?.mode ?? ref.feed.failover.mode
		const locked = rec?.locked ?? false
		if (path === undefined) {
			// the output shows a source that is none of the feed's paths: hold it in manual, never "correct" it
			mode = 'manual'
			this.raise(
				'foreign-source',
				ref.key,
				`${ref.feed.output.router} output ${ref.feed.output.output} shows input ${input ?? 'unknown'}, none of the paths of ${ref.key}: held in manual`,
			)
		}
		const active = path ?? ref.ranked[0]?.id
		if (active === undefined) return
		if (rec && rec.active !== path)
			this.log.warn(
				{ feed: ref.key, journal: rec.active, router: path ?? null },
				"the router's crosspoint differs from the journal: the router wins",
			)
		const obs: Observation = { type: 'start', t, feed: ref.key, active, mode, locked }
		const outputs = this.engine.apply(obs)
		this.started.add(ref.key)
		void this.write([
			{
				kind: 'start',
				payload: {
					t,
					feed: ref.key,
					active,
					mode,
					locked,
					recovered: rec ? { active: rec.active, mode: rec.mode, locked: rec.locked } : null,
				},
			},
			...outputs.flatMap(entriesForOutput),
		])
		this.handle(outputs)
		this.schedule()
		this.publishFeed(ref.key)
	}

	private onCrosspoint(routerId: string, e: { output: number; input: number; ours: boolean; at: number }): void {
		if (this.phase !== 'running') return
		const ref = (this.feedsByRouter.get(routerId) ?? []).find((r) => r.feed.output.output === e.output)
		const path = ref ? this.pathByInput.get(ref.key)?.get(e.input) : undefined
		// only a feed's output is the journal's business: a whole router's dump on every reconnect is not
		if (!ref) return
		const t = this.now()
		void this.write([
			{
				kind: 'tally',
				payload: {
					t,
					router: routerId,
					output: e.output,
					input: e.input,
					...(ref ? { feed: ref.key } : {}),
					...(path ? { path } : {}),
				},
			},
		])
		if (!this.started.has(ref.key)) return
		this.publishFeed(ref.key)
		if (e.ours) return
		const active = this.engine.feedSnapshot(ref.key).active
		if (path !== active) this.externalChange(ref, path, e.input)
	}

	/** Another controller moved the feed's crosspoint: sigpath does not fight it; it follows, in manual. */
	private externalChange(ref: FeedRef, path: string | undefined, input: number | undefined): void {
		const operator = { name: `router:${ref.feed.output.router}`, via: 'router' }
		if (path !== undefined) {
			this.log.warn({ feed: ref.key, path }, 'crosspoint changed by another controller: following it, in manual')
			const obs: Observation = {
				type: 'command',
				t: this.now(),
				feed: ref.key,
				command: 'take',
				path,
				force: true,
				operator: operator.name,
			}
			// the take the engine decides is already on the router: the driver confirms it without sending anything
			this.apply(obs, operator.via)
		} else {
			this.raise(
				'foreign-source',
				ref.key,
				`${ref.feed.output.router} output ${ref.feed.output.output} was switched to input ${input ?? '?'}, none of the paths of ${ref.key}: held in manual`,
			)
			this.apply(
				{ type: 'command', t: this.now(), feed: ref.key, command: 'manual', operator: operator.name },
				operator.via,
			)
		}
	}

	// ---- signal devices ------------------------------------------------------------------------------------------------

	private onDeviceSignal(
		device: string,
		state: 'up' | 'down' | 'degraded' | 'unknown',
		at: number,
		reason?: string,
	): void {
		if (this.phase !== 'running') return
		const t = this.now()
		const atT = this.toEngineT(at, t)
		this.log.debug({ device, state, at: atT, t, reason }, 'device report')
		this.apply({ type: 'device', t, device, state, ...(atT < t ? { at: atT } : {}) }, 'driver')
		this.publishDevice(device)
	}

	// ---- publication ---------------------------------------------------------------------------------------------------

	private checkFirstSync(): void {
		if (this.published || this.phase !== 'running') return
		const routersOk = [...this.routers.values()].every((r) => r.isSynced())
		const sourcesOk = this.sources.every((s) => s.isSynced())
		const upsOk = this.ups.every((u) => u.synced)
		if (routersOk && sourcesOk && upsOk) this.publishAll()
	}

	private publishAll(): void {
		this.published = true
		if (this.firstSyncTimer) clearTimeout(this.firstSyncTimer)
		this.firstSyncTimer = undefined
		for (const key of this.model.feeds.keys()) this.publishFeed(key)
		for (const id of this.routers.keys()) this.publishDevice(id)
		for (const s of this.sources) this.publishDevice(s.deviceId)
		for (const u of this.ups) this.publishDevice(u.id)
		this.control?.markSynced()
		this.log.info('first sync complete: state published')
		this.events.emit('ready')
	}

	feedState(key: FeedKey): FeedState {
		const ref = this.model.feeds.get(key)!
		const snap = this.engine.feedSnapshot(key)
		const router = this.routers.get(ref.feed.output.router)
		let tally: string | null | undefined
		if (router?.isSynced()) {
			const input = router.routing().get(ref.feed.output.output)
			tally = input !== undefined ? (this.pathByInput.get(key)?.get(input) ?? null) : null
		}
		return feedState(snap, tally, this.staticCompliant.get(key) ?? true, ref.feed.critical)
	}

	private publishFeed(key: FeedKey): void {
		const state = this.feedState(key)
		const json = JSON.stringify(state)
		if (this.lastState.get(key) === json) return
		this.lastState.set(key, json)
		this.control?.publishFeedState(key, state)
		this.events.emit('feed', key, state)
	}

	deviceState(id: string): { connected: boolean; health: string; detail: Record<string, unknown> } | undefined {
		const router = this.routers.get(id)
		if (router) {
			const s = router.status()
			return {
				connected: s.connected,
				health: s.health,
				detail: { routing: s.routing, locks: s.locks, synced: s.synced, stale: s.freshness.stale },
			}
		}
		const ups = this.ups.find((u) => u.id === id)
		if (ups) {
			const p = upsProbeResult(id, ups.status)
			return { connected: p.connected, health: p.health, detail: p.detail }
		}
		return this.sources.find((s) => s.deviceId === id)?.status()
	}

	/** A feed's active alarms: the engine's, and the power model's at-risk (a UPS on battery or lost). */
	feedAlarms(key: FeedKey): string[] {
		const alarms: string[] = [...this.engine.feedSnapshot(key).alarms]
		if (this.powerAlarms.has(`${key}:at-risk`) && !alarms.includes('at-risk')) alarms.push('at-risk')
		return alarms
	}

	/** The power model now (null before any UPS reported). */
	powerReport(): PowerReport | undefined {
		return this.power
	}

	// ---- power ---------------------------------------------------------------------------------------------------------

	/**
	 * A UPS changed: recompute the power model, raise or clear the device's power alarms, and re-judge live
	 * compliance with the pure rule on the config as it stands (lost sources removed): a device down to one
	 * protected source, or none, makes its feeds at risk.
	 */
	private onPower(): void {
		if (this.phase !== 'running') return
		const obs = new Map(this.ups.map((u) => [u.id, upsObservation(u.status)]))
		const report = powerReport(this.o.config, obs)
		this.power = report
		for (const u of this.ups) {
			this.publishDevice(u.id)
			const power = u.status.reading?.power
			const lowish = power === 'low-battery' || (u.status.commLost && power === 'on-battery')
			this.setPowerAlarm(
				`${u.id}:power-low-battery`,
				lowish,
				'power-low-battery',
				{ device: u.id },
				`UPS ${u.id}: low battery${u.status.reading?.minutesRemaining != null ? `, ${u.status.reading.minutesRemaining} min left` : ''}`,
			)
			this.setPowerAlarm(
				`${u.id}:power-on-battery`,
				power === 'on-battery' && !lowish,
				'power-on-battery',
				{ device: u.id },
				`UPS ${u.id} is on battery${u.status.reading?.minutesRemaining != null ? ` (${u.status.reading.minutesRemaining} min left)` : ''}`,
			)
		}
		const live = judge(liveConfig(this.o.config, report))
		// a device is weak when it is down to fewer than two protected sources, or one of them is on battery
		const weak = new Map(
			[...report.devices.values()]
				.filter((d) => d.sources >= 2 && (d.protectedSources < 2 || d.atRisk.length > 0))
				.map((d) => [d.device, d]),
		)
		for (const f of live.feeds) {
			const key: FeedKey = `${f.event}/${f.feed}`
			const was = this.staticCompliant.get(key)
			this.staticCompliant.set(key, f.compliant)
			this.violations.set(key, f.violations)
			if (was !== f.compliant) this.publishFeed(key)
			const ref = this.model.feeds.get(key)
			if (!ref?.feed.critical) continue
			const devices = [...new Set(ref.feed.paths.flatMap((p) => p.via))].filter((d) => weak.has(d))
			const msg = devices
				.map((d) => {
					const w = weak.get(d)!
					const onBattery = w.atRisk.length > 0 ? ` (${w.atRisk.join(', ')} on battery)` : ''
					return `${d} has ${w.protectedSources} protected power source${w.protectedSources === 1 ? '' : 's'} left${onBattery}`
				})
				.join('; ')
			this.setPowerAlarm(
				`${key}:at-risk`,
				devices.length > 0,
				'at-risk',
				{ feed: key },
				`feed ${key} is at risk: ${msg}`,
			)
		}
	}

	private setPowerAlarm(
		key: string,
		active: boolean,
		code: string,
		about: { device?: string; feed?: FeedKey },
		message: string,
	): void {
		if (active === this.powerAlarms.has(key)) return
		if (active) this.powerAlarms.add(key)
		else this.powerAlarms.delete(key)
		const alarm: MqttAlarm = {
			t: new Date().toISOString(),
			severity: severityOf(code, active),
			code,
			...(about.device ? { device: about.device } : {}),
			...(about.feed ? { feed: about.feed } : {}),
			message: active ? message : `cleared: ${message.replace(/^[^:]*: /, '')}`,
		}
		this.log[active ? 'warn' : 'info']({ alarm: code, ...about, active }, message)
		void this.write([
			{
				kind: 'alarm',
				payload: {
					t: this.now(),
					feed: about.feed ?? '',
					alarm: code,
					active,
					message: about.device ? `${about.device}: ${message}` : message,
				},
			},
		])
		this.control?.publishAlarm(alarm)
		this.events.emit('alarm', alarm)
	}

	private publishDevice(id: string): void {
		const s = this.deviceState(id)
		if (!s) return
		this.control?.publishDeviceState(id, s as Parameters<MqttControl['publishDeviceState']>[1])
		this.events.emit('device', id, s)
	}

	private raise(code: string, feed: FeedKey, message: string): void {
		this.log.warn({ feed, alarm: code }, message)
		void this.write([{ kind: 'alarm', payload: { t: this.now(), feed, alarm: code, active: true, message } }])
		const alarm: MqttAlarm = { t: new Date().toISOString(), severity: severityOf(code), code, feed, message }
		this.control?.publishAlarm(alarm)
		this.events.emit('alarm', alarm)
	}

	// ---- MIDI surfaces ---------------------------------------------------------------------------------------------------

	private midiPort: MidiPort | undefined

	/** Buttons send commands as operator `midi:<port>`; LEDs follow the feeds' state. No port: the daemon runs on. */
	private async startMidi(): Promise<void> {
		const cfg = this.o.config.midi
		if (!cfg) return
		const port = await openMidiPort(cfg, this.log.child({ part: 'midi' }))
		if (!port) return
		this.midiPort = port
		const mapper = new MidiMapper(cfg)
		const operator = { name: `midi:${port.name}`, via: 'midi' }
		port.onMessage((bytes) => {
			for (const c of mapper.decode(bytes))
				void this.command(c.feed as FeedKey, c.command, operator).then((r) => {
					if (!r.ok) this.log.warn({ feed: c.feed, error: r.error }, 'MIDI command refused')
				})
		})
		const states = new Map<string, FeedState>()
		const refresh = () => {
			for (const msg of mapper.leds(states)) port.send(msg)
		}
		this.events.on('feed', (key, state) => {
			states.set(key, state)
			refresh()
		})
	}

	// ---- MQTT ------------------------------------------------------------------------------------------------------------

	private async startControl(): Promise<void> {
		const cfg = this.o.config
		let url: string
		let username: string | undefined
		let password: string | undefined
		let protocolVersion: 4 | 5 = 5
		if (cfg.mqtt) {
			url = cfg.mqtt.url
			username = cfg.mqtt.username
			password = cfg.mqtt.password !== undefined ? resolveSecret(cfg.mqtt.password, this.env) : undefined
		} else {
			const { host, port } = splitListen(cfg.broker?.listen ?? '127.0.0.1:1883')
			this.broker = await startEmbeddedBroker(cfg.site.id, host, port, this.log)
			url = this.broker.url
			username = this.broker.username
			password = this.broker.password
			protocolVersion = 4 // aedes speaks MQTT 3.1.1
		}
		this.control = new MqttControl({
			site: cfg.site.id,
			url,
			...(username !== undefined ? { username } : {}),
			...(password !== undefined ? { password } : {}),
			clientId: cfg.mqtt?.clientId ?? `sigpath-${cfg.site.id}`,
			...(cfg.mqtt?.tls
				? {
						tls: {
							...(cfg.mqtt.tls.ca ? { ca: cfg.mqtt.tls.ca } : {}),
							...(cfg.mqtt.tls.cert ? { cert: cfg.mqtt.tls.cert } : {}),
							...(cfg.mqtt.tls.key ? { key: cfg.mqtt.tls.key } : {}),
						},
					}
				: {}),
			feeds: new Set(this.model.feeds.keys()),
			handler: (feed, command, operator) => this.command(feed, command, operator),
			log: this.log.child({ part: 'mqtt' }),
			protocolVersion,
		})
		await this.control.start()
	}
}
