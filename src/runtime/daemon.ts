// The daemon: the one place that knows all the parts, and only wires them (docs/architecture.md). Data flows one way:
//   driver events -> observations -> engine loop -> decisions -> takes -> tally confirms -> journal -> publisher
// - loop.ts       the engine in real time: observations in, outputs journaled, the engine's timer
// - takes.ts      decisions made real on the router: salvos, one retry, unroutable paths
// - tally.ts      the routers' crosspoints: feeds start from them; changes by another controller are followed
// - rule/power.ts the power monitor (pure): UPS readings in, power alarms and live compliance out
// - alarms.ts     every alarm goes through the alarm manager
// - publisher.ts  every change leaves through the publisher: MQTT retained state, the status endpoint, MIDI LEDs
// - surfaces.ts   MQTT and MIDI control surfaces
// - content.ts    content checks' alarms; power-wiring.ts the UPS devices to the power monitor
// - facs/         FACS tours on a QC output (src/facs/tour.ts), over HTTP and MQTT
//
// Restart safety (docs/contract.md §4 "Start"): nothing here sends a routing request of its own accord. At start each
// router's real crosspoints are read first and become the feeds' start paths; mode and lock come back from the
// journal; every signal is "not yet reported". Takes are sent only for engine decisions (failover, revert, an
// operator's take) and always confirmed on the router's own tally.
import { createHash } from 'node:crypto'
import type { Logger } from 'pino'
import { createRouter, type Router } from '../../drivers/router/index.ts'
import type { TrapReceiver } from '../../drivers/snmp/index.ts'
import type { UpsDevice } from '../../drivers/ups/index.ts'
import { systemClock, type Clock } from '../clock.ts'
import type { Operator } from '../control/mqtt.ts'
import type { CommandResult, DeviceState, FeedState, SetCommand } from '../control/payloads.ts'
import type { Config } from '../domain/config.ts'
import { buildModel, type FeedKey, type Model } from '../domain/model.ts'
import type { PowerReport } from '../domain/power.ts'
import { resolveSecret } from '../domain/secrets.ts'
import type { Engine } from '../engine/engine.ts'
import type { Decision, Observation } from '../engine/types.ts'
import {
	Journal,
	JournalDropped,
	readRecords,
	recoverFeeds,
	type Entry,
	type JournalHead,
	type JournalHealth,
	type FeedState as Recovered,
} from '../journal/index.ts'
import { PowerMonitor } from '../rule/power.ts'
import { VERSION } from '../version.ts'
import { facsOverMqtt } from '../facs/mqtt.ts'
import { FacsRunner } from '../facs/tour.ts'
import { createDrivers, deviceStateOf, syncables } from './adapters.ts'
import { AlarmManager } from './alarms.ts'
import { watchContent } from './content.ts'
import type { SignalSource } from './devices.ts'
import { FirstSync } from './first-sync.ts'
import { EngineLoop } from './loop.ts'
import { followPower } from './power-wiring.ts'
import { Publisher } from './publisher.ts'
import { feedState, statusReport, type StatusReport } from './state.ts'
import { Surfaces } from './surfaces.ts'
import { TallyFollower } from './tally.ts'
import { Takes, type TakeTiming } from './takes.ts'

export { VERSION } from '../version.ts'
export type { DaemonEvents } from './publisher.ts'
export type { StatusReport } from './state.ts'
export type { TakeTiming } from './takes.ts'

export interface DaemonOptions {
	config: Config
	/** the config file's text, hashed into the boot record so an incident is replayed against its config */
	configText?: string
	log: Logger
	env?: NodeJS.ProcessEnv
	clock?: Clock
	/**
	 * Signal and UPS devices. Absent: made from the config's drivers (SRT receivers, SNMP signal devices, UPS over
	 * SNMP, NUT and Megatec). Tests pass their own.
	 */
	signalSources?: SignalSource[]
	upsDevices?: UpsDevice[]
	/** how long READY=1 waits for routers that never sync (default: the config's startup.readyTimeoutMs) */
	firstSyncTimeoutMs?: number
	/** router take timeout (ms) */
	takeTimeoutMs?: number
}

type Phase = 'created' | 'starting' | 'running' | 'stopping' | 'stopped'

export class Daemon {
	readonly model: Model
	private readonly log: Logger
	private readonly env: NodeJS.ProcessEnv
	private readonly clock: Clock
	private readonly routers = new Map<string, Router>()
	private readonly sources: SignalSource[]
	private readonly ups: UpsDevice[]
	private readonly traps: TrapReceiver | null
	private readonly publisher: Publisher
	private readonly alarms: AlarmManager
	private readonly loop: EngineLoop
	private readonly takesRunner: Takes
	private readonly tally: TallyFollower
	private readonly power: PowerMonitor
	private readonly surfaces: Surfaces
	/** FACS tours (docs/contract.md §10): over HTTP, MQTT and `sigpath facs` */
	readonly facs: FacsRunner
	private journal: Journal | undefined
	private recovered = new Map<string, Recovered>()
	private firstSync: FirstSync | undefined
	private phase: Phase = 'created'
	/** a record was dropped (the journal's memory queue was full) and said so in the log, in this fault */
	private dropLogged = false
	private readonly startedAt: number

	constructor(private readonly o: DaemonOptions) {
		this.log = o.log
		this.env = o.env ?? process.env
		this.clock = o.clock ?? systemClock
		this.startedAt = this.clock.wallMs()
		this.model = buildModel(o.config)
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

		const running = (): boolean => this.phase === 'running'
		const journal = (entries: readonly Entry[]): void => void this.write(entries)
		const now = (): number => this.loop.now()
		this.power = new PowerMonitor(o.config)
		this.publisher = new Publisher({
			model: this.model,
			feedStarted: (k) => this.loop.started(k),
			feedState: (k) => this.feedState(k),
			deviceState: (id) => this.deviceState(id),
		})
		this.alarms = new AlarmManager({ log: this.log, journal, now, wallMs: () => this.clock.wallMs() })
		this.alarms.on('alarm', (a) => this.publisher.alarm(a))
		watchContent(this.sources, this.alarms)
		this.loop = new EngineLoop({
			model: this.model,
			clock: this.clock,
			log: this.log,
			journal: (entries) => this.write(entries),
			alarms: this.alarms,
			decide: (d: Decision) => this.takesRunner.execute(d),
			touched: (keys) => this.publisher.feeds(keys),
			running,
		})
		this.takesRunner = new Takes({
			model: this.model,
			routers: this.routers,
			log: this.log,
			journal,
			alarms: this.alarms,
			now,
			running,
			report: (feed, path, signal) => this.loop.apply({ type: 'signal', t: now(), feed, path, signal }, 'runtime'),
			confirmed: (t) => this.publisher.switched(t),
		})
		this.tally = new TallyFollower({
			model: this.model,
			routers: this.routers,
			loop: this.loop,
			log: this.log,
			journal,
			recovered: () => this.recovered,
			running,
			resynced: (feed) => this.takesRunner.retryUnroutable(feed),
			moved: (feed) => this.publisher.feed(feed),
		})
		const { model, routers, sources, log } = this
		const feedState = (k: FeedKey): FeedState => this.feedState(k)
		this.facs = new FacsRunner({ model, routers, sources, feedState, journal, now, log, running })
		this.facs.events.on('report', (r) => this.publisher.events.emit('facs', r))
		this.surfaces = new Surfaces({
			config: o.config,
			feeds: this.model.feeds.keys(),
			log: this.log,
			env: this.env,
			publisher: this.publisher,
			mqttCommand: (feed, cmd, operator: Operator) => this.command(feed, cmd, operator),
			command: (feed, cmd, operator) => this.command(feed, cmd, operator),
		})
	}

	/** what the status endpoint, metrics and the dashboard's push channel listen to */
	get events(): Publisher['events'] {
		return this.publisher.events
	}

	/** completed takes, for benchmarks and the status endpoint */
	get takes(): readonly TakeTiming[] {
		return this.publisher.takes
	}

	get engine(): Engine {
		return this.loop.engine
	}

	/** Engine time: integer ms since boot, never decreasing. */
	now(): number {
		return this.loop.now()
	}

	/** Started: every router synced (or the ready timeout passed), state published, systemd told READY=1. */
	isReady(): boolean {
		return this.publisher.ready
	}

	/** GET /readyz: every device with a driver through its first sync, or the devices still waiting and why. */
	readiness(): { ready: boolean; waiting: { device: string; why: string }[] } {
		const fs = this.firstSync
		if (!fs) return { ready: false, waiting: [{ device: '(daemon)', why: 'starting' }] }
		const waiting = fs.waiting()
		return { ready: waiting.length === 0 && this.publisher.ready, waiting }
	}

	/** the journal directory (for /audit) */
	get journalDir(): string {
		return this.o.config.journal?.dir ?? '/var/lib/sigpath'
	}

	routerOf(id: string): Router | undefined {
		return this.routers.get(id)
	}

	async start(): Promise<void> {
		if (this.phase !== 'created') throw new Error('the daemon starts once')
		this.phase = 'starting'
		const cfg = this.o.config
		// a keyed chain's key: a missing variable is a SecretError before anything starts (run: exit 78)
		const key = cfg.journal?.key ? Buffer.from(resolveSecret(cfg.journal.key, this.env), 'utf8') : undefined
		// A directory that can be read but not written (read-only, full) opens faulted: the daemon starts and controls
		// all the same, with journal-failed raised, and the journal writes once the disk takes writes (§8). One that
		// cannot be read at all stops the start: without its head the chain cannot go on, nor mode and lock come back.
		this.journal = Journal.open({
			dir: this.journalDir,
			...(cfg.journal?.rotateBytes ? { rotateBytes: cfg.journal.rotateBytes } : {}),
			...(key ? { key } : {}),
		})
		const rep = this.journal.report
		if (rep.torn) this.log.warn({ torn: rep.torn }, 'journal: a torn tail was found at start (cut before writing)')
		if (rep.broken.length > 0) this.log.error({ broken: rep.broken.slice(0, 5) }, 'journal: the chain is broken')
		this.recovered = recoverFeeds(readRecords(this.journalDir, key))
		const mono = this.loop.boot()
		this.journal.on('fault', (h) => this.journalFault(h))
		this.journal.on('recovered', (r) => {
			this.dropLogged = false
			const message = `journal: writing again to ${this.journalDir}: ${r.written} held records written after ${r.downMs} ms${r.dropped > 0 ? `, ${r.dropped} dropped (counted in a dropped record)` : ''}`
			this.log[r.dropped > 0 ? 'warn' : 'info']({ ...r }, message)
			this.alarms.hold('journal-failed', false, 'journal-failed', {}, message)
		})
		const config = this.o.configText !== undefined ? createHash('sha256').update(this.o.configText).digest('hex') : null
		void this.write([
			{ kind: 'boot', payload: { version: VERSION, pid: process.pid, mono, ...(config ? { config } : {}) } },
		])

		await this.surfaces.start()
		facsOverMqtt(this.surfaces.control, this.facs, this.log)
		// after the boot record (a run begins at its boot record, §8 Timeline, even one held in memory), and once MQTT
		// is connected, so that the alarm is published as well as logged and journaled
		if (!this.journal.health.ok) this.journalFault(this.journal.health)

		for (const d of cfg.devices) {
			if (d.role !== 'router' || !d.driver) continue
			const router = createRouter(
				d,
				{ log: this.log },
				{ ...(this.o.takeTimeoutMs ? { takeTimeoutMs: this.o.takeTimeoutMs } : {}) },
			)
			this.routers.set(d.id, router)
		}
		this.tally.follow()
		for (const [id, router] of this.routers) {
			router.on('synced', () => {
				if (this.phase !== 'running') return
				this.publisher.device(id)
				this.firstSync?.check()
			})
			router.on('connection', (e) => {
				this.publisher.device(id)
				if (!e.connected) this.log.warn({ router: id, state: e.state, reason: e.reason }, 'router link down')
			})
			router.on('freshness', () => this.publisher.device(id))
			router.on('lock', () => this.publisher.device(id))
		}
		for (const src of this.sources) {
			src.on('signal', (e) => this.onDeviceSignal(src.deviceId, e.state, e.at, e.reason))
			src.on('synced', () => this.firstSync?.check())
			src.on('status', () => this.publisher.device(src.deviceId))
		}
		const { ups, power, loop, publisher, alarms } = this
		followPower({
			ups,
			power,
			loop,
			publisher,
			alarms,
			running: () => this.phase === 'running',
			synced: () => this.firstSync?.check(),
		})
		if (this.traps) await this.traps.start()
		this.phase = 'running'
		for (const r of this.routers.values()) r.start()
		for (const s of this.sources) s.start()
		for (const u of this.ups) u.start()
		this.firstSync = new FirstSync(syncables(this.routers, this.sources, this.ups), {
			readyTimeoutMs: this.o.firstSyncTimeoutMs ?? cfg.startup?.readyTimeoutMs ?? 20_000,
			log: this.log,
			running: () => this.phase === 'running',
			publish: () => {
				this.publisher.firstSync(
					this.model.feeds.keys(),
					this.o.config.devices.map((d) => d.id),
				)
				this.log.info('every router synced: state published, ready')
			},
			stale: (device, stale, why) =>
				this.alarms.hold(
					`device-stale:${device}`,
					stale,
					'device-stale',
					{ device },
					`${device} has not completed its first sync: ${why}`,
				),
		})
		this.firstSync.start()
	}

	/**
	 * Alive and able to act: running. A failing journal does not make the daemon unhealthy: it goes on controlling,
	 * with its records held in memory, and says so with the journal-failed alarm (§8); a restart by the watchdog
	 * would only lose those records and leave the feeds uncontrolled while it starts.
	 */
	healthy(): boolean {
		return this.phase === 'running'
	}

	/** The last record on disk `{ seq, hash, at }`, to be kept elsewhere (MQTT, /status) for `journal verify --head`. */
	journalHead(): JournalHead | null {
		return this.journal?.written ?? null
	}

	/** The journal's state (ok, or why not, and the records held in memory), for the status. */
	journalHealth(): JournalHealth | undefined {
		return this.journal?.health
	}

	/** `keepOnline` (a reload): the MQTT client leaves without publishing online=false; the next one takes over. */
	async stop(reason = 'stop', options: { keepOnline?: boolean } = {}): Promise<void> {
		if (this.phase === 'stopping' || this.phase === 'stopped') return
		this.phase = 'stopping'
		this.log.info({ reason }, 'stopping')
		this.loop.stop()
		this.firstSync?.stop()
		// in-flight takes settle (confirmed or not) before the routers go: their outcome belongs in the journal; a FACS
		// tour puts its QC output back
		await Promise.all([this.takesRunner.settle(), this.facs.stop()])
		await this.surfaces.stop({ offline: !options.keepOnline })
		await Promise.allSettled([...this.routers.values()].map((r) => r.stop()))
		await Promise.allSettled(this.sources.map((s) => s.stop()))
		await Promise.allSettled(this.ups.map((u) => u.stop()))
		await this.traps?.stop()
		if (this.journal) {
			// not awaited: on a failing disk it would wait for ever; close makes one last try and gives up what it
			// cannot write (write() never rejects), and does not wait on a hung write past the journal's stall limit
			void this.write([{ kind: 'shutdown', payload: { reason } }])
			await this.journal.close()
		}
		this.phase = 'stopped'
	}

	/**
	 * An operator command: journaled with its operator and result; a take resolves once the router confirms. The reply
	 * waits for the command's records to be durable while the journal is healthy; while it is failing (or as soon as
	 * it fails) it waits no longer: the command is applied and acted on all the same, and its records are held in
	 * memory with the rest (§8). The reply never turns into an error because of the disk.
	 */
	async command(
		feed: FeedKey,
		cmd: SetCommand,
		operator: Operator | { name: string; via: string },
	): Promise<CommandResult> {
		if (this.phase !== 'running') return { ok: false, error: 'the daemon is not running' }
		if (!this.model.feeds.has(feed)) return { ok: false, error: `unknown feed ${feed}` }
		if (!this.loop.started(feed))
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
		const { outputs, durable } = this.loop.apply(obs, operator.via)
		const refusal = outputs.find((o) => o.kind === 'refusal' && o.feed === feed)
		if (this.journal) await this.journal.writtenOrQueued(durable)
		if (refusal?.kind === 'refusal') return { ok: false, error: refusal.message }
		const decision = outputs.find((o): o is Decision => o.kind === 'decision' && o.feed === feed)
		if (decision && !(await this.takesRunner.latest(feed)))
			return { ok: false, error: `the router did not confirm the take of ${decision.to}` }
		return { ok: true }
	}

	/** GET /status (docs/contract.md §6). */
	status(): StatusReport {
		return statusReport({
			site: this.o.config.site.id,
			version: VERSION,
			uptimeS: Math.floor((this.clock.wallMs() - this.startedAt) / 1000),
			model: this.model,
			devices: this.o.config.devices,
			feedState: (k) => this.feedState(k),
			feedAlarms: (k) => this.feedAlarms(k),
			violations: (k) => this.power.feedCompliance(k)?.violations ?? [],
			deviceState: (id) => this.deviceState(id),
		})
	}

	feedState(key: FeedKey): FeedState {
		const ref = this.model.feeds.get(key)!
		const compliant = this.power.feedCompliance(key)?.compliant ?? true
		return feedState(this.engine.feedSnapshot(key), this.tally.onAir(ref), compliant, ref.feed.critical)
	}

	deviceState(id: string): DeviceState | undefined {
		return deviceStateOf(id, { routers: this.routers, ups: this.ups, sources: this.sources })
	}

	/** A feed's active alarms: the engine's, and the power monitor's at-risk (a UPS on battery or lost). */
	feedAlarms(key: FeedKey): string[] {
		const alarms: string[] = [...this.engine.feedSnapshot(key).alarms]
		for (const code of this.alarms.heldCodes(key)) if (!alarms.includes(code)) alarms.push(code)
		return alarms
	}

	/** The power model now (undefined before any UPS reported). */
	powerReport(): PowerReport | undefined {
		return this.power.report
	}

	/**
	 * Journals records; resolves once they are durable. Never rejects: it is called without waiting (`void`) from
	 * every part of the daemon, and a disk fault must neither kill the process nor hold up a decision. While the disk
	 * refuses writes the journal holds the records (journal-failed is raised); a record it cannot hold is dropped and
	 * counted, and said here once per fault.
	 */
	private write(entries: readonly Entry[]): Promise<void> {
		const j = this.journal
		if (!j || entries.length === 0) return Promise.resolve()
		return Promise.all(
			entries.map((e) =>
				j.append(e.kind, e.payload).then(
					() => undefined,
					(err: unknown) => this.lost(err, e.kind),
				),
			),
		).then(() => undefined)
	}

	private lost(err: unknown, kind: string): void {
		if (!(err instanceof JournalDropped)) {
			this.log.error({ err, kind }, 'journal: a record could not be written')
			return
		}
		if (this.dropLogged) return
		this.dropLogged = true
		this.log.error(
			{ err: err.message, kind, health: this.journal?.health },
			'journal: records are being dropped (the memory queue is full or the journal closed); they are counted in a dropped record',
		)
	}

	private journalFault(h: JournalHealth): void {
		const message = `journal: cannot write to ${this.journalDir} (${h.reason ?? 'unknown'}); the daemon goes on controlling, its records are held in memory (${h.queued} now, up to ${h.maxQueued}) and written when the disk takes them`
		this.log.error({ health: h }, message)
		this.alarms.hold('journal-failed', true, 'journal-failed', {}, message)
	}

	private onDeviceSignal(device: string, state: 'up' | 'down' | 'degraded' | 'unknown', at: number, reason?: string) {
		if (this.phase !== 'running') return
		const t = this.now()
		const atT = this.loop.toEngineT(at, t)
		this.log.debug({ device, state, at: atT, t, reason }, 'device report')
		this.loop.apply({ type: 'device', t, device, state, ...(atT < t ? { at: atT } : {}) }, 'driver')
		this.publisher.device(device)
	}
}
