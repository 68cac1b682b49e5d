// The daemon: the one place that knows all the parts, and only wires them (docs/architecture.md). Data flows one way:
//   driver events -> observations -> engine loop -> decisions -> takes -> tally confirms -> journal -> publisher
// - loop.ts       the engine in real time: observations in, outputs journaled, the engine's timer
// - takes.ts      decisions made real on the router: salvos, one retry, unroutable paths
// - tally.ts      the routers' crosspoints: feeds start from them; changes by another controller are followed
// - rule/power.ts the power monitor (pure): UPS readings in, power alarms and live compliance out
// - alarms.ts     every alarm goes through the alarm manager (device-stale.ts judges the devices' links)
// - publisher.ts  every change leaves through the publisher: MQTT retained state, the status endpoint, MIDI LEDs
// - surfaces.ts   MQTT and MIDI control surfaces
// - content.ts    content checks' alarms (black, freeze, silence, ts-errors, content-analyser-failed)
// - facs/         FACS tours on a QC output (src/facs/tour.ts), over HTTP and MQTT
//
// Restart safety (docs/contract.md §4 "Start"): nothing here sends a routing request of its own accord. At start each
// router's real crosspoints are read first and become the feeds' start paths; mode and lock come back from the
// journal; every signal is "not yet reported". Takes are sent only for engine decisions (failover, revert, an
// operator's take) and always confirmed on the router's own tally.
import { createHash } from 'node:crypto'
import type { Logger } from 'pino'
import type { Router } from '../../drivers/router/index.ts'
import type { TrapReceiver } from '../../drivers/snmp/index.ts'
import type { UpsDevice } from '../../drivers/ups/index.ts'
import { systemClock, type Clock } from '../clock.ts'
import type { Operator } from '../control/mqtt.ts'
import type { AckResult, AlarmRecord, CommandResult, DeviceState, FeedState, SetCommand } from '../control/payloads.ts'
import type { Config } from '../domain/config.ts'
import { buildModel, type FeedKey, type Model } from '../domain/model.ts'
import type { PowerReport } from '../domain/power.ts'
import type { Engine } from '../engine/engine.ts'
import type { Decision, Observation } from '../engine/types.ts'
import type { Entry, JournalHead, JournalHealth, FeedState as Recovered } from '../journal/index.ts'
import { PowerMonitor } from '../rule/power.ts'
import { VERSION } from '../version.ts'
import { facsOverMqtt } from '../facs/mqtt.ts'
import { FacsRunner } from '../facs/tour.ts'
import { createDrivers, createRouters, deviceStateOf, syncables, upsReadings } from './adapters.ts'
import { AlarmManager, type AckBy } from './alarms.ts'
import { watchContent } from './content.ts'
import { DeviceStale } from './device-stale.ts'
import type { SignalSource } from './devices.ts'
import { listenToDevices } from './device-events.ts'
import { FirstSync } from './first-sync.ts'
import { HaNode } from './ha/node.ts'
import { Journaling } from './journaling.ts'
import { EngineLoop } from './loop.ts'
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
	/** this node's name in a pair (docs/contract.md §9: `--node`, SIGPATH_NODE) */
	node?: string | undefined
	/** the journal's head is published at least this often (default 10 s) */
	journalHeadEveryMs?: number
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
	private readonly deviceStale: DeviceStale
	private readonly loop: EngineLoop
	private readonly takesRunner: Takes
	private readonly tally: TallyFollower
	private readonly power: PowerMonitor
	private readonly surfaces: Surfaces
	private readonly ha: HaNode
	/** FACS tours (docs/contract.md §10): over HTTP, MQTT and `sigpath facs` */
	readonly facs: FacsRunner
	private readonly journal: Journaling
	private recovered = new Map<string, Recovered>()
	private firstSync: FirstSync | undefined
	private phase: Phase = 'created'
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
			feedExtras: (k) => ({ alarms: this.feedAlarms(k), violations: this.power.feedCompliance(k)?.violations ?? [] }),
			deviceState: (id) => this.deviceState(id),
		})
		this.alarms = new AlarmManager({ log: this.log, journal, now, wallMs: () => this.clock.wallMs() })
		this.journal = new Journaling({
			config: o.config.journal,
			dir: this.journalDir,
			env: this.env,
			log: this.log,
			clock: this.clock,
			failed: (active, message) =>
				this.alarms.hold({ id: 'journal-failed', code: 'journal-failed', active, message, cleared: message }),
			publishHead: (h) => this.publisher.journalHead(h),
			...(o.journalHeadEveryMs ? { headEveryMs: o.journalHeadEveryMs } : {}),
		})
		this.alarms.on('alarm', (a) => this.publisher.alarm(a))
		this.alarms.on('active', (list) => this.publisher.alarmList(list))
		watchContent(this.sources, this.alarms)
		this.deviceStale = new DeviceStale({ config: o.config, hold: (c) => this.alarms.hold(c), running })
		this.loop = new EngineLoop({
			model: this.model,
			clock: this.clock,
			log: this.log,
			journal: (entries) => this.write(entries),
			alarms: this.alarms,
			decide: (d: Decision) => this.takesRunner.execute(d),
			decided: () => this.takesRunner.flush(),
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
			fence: () => this.ha.mayRoute(),
		})
		this.tally = new TallyFollower({
			model: this.model,
			routers: this.routers,
			loop: this.loop,
			log: this.log,
			journal,
			recovered: () => this.ha.recovered(this.recovered),
			running,
			resynced: (feed) => this.takesRunner.retryUnroutable(feed),
			moved: (feed) => this.publisher.feed(feed),
			follow: (ref, path) => this.ha.follow(ref, path),
		})
		const parts = { loop: this.loop, tally: this.tally, alarms: this.alarms, publisher: this.publisher }
		this.ha = new HaNode(o, this.env, this.model, { ...parts, republish: () => this.surfaces.republish() })
		const { model, routers, sources, log } = this
		const feedState = (k: FeedKey): FeedState => this.feedState(k)
		const permit = { command: () => this.ha.mayCommand(), route: () => this.ha.mayRoute() }
		this.facs = new FacsRunner({ model, routers, sources, feedState, journal, now, log, running, permit })
		this.facs.events.on('report', (r) => this.publisher.events.emit('facs', r))
		this.surfaces = new Surfaces({
			config: o.config,
			feeds: this.model.feeds.keys(),
			log: this.log,
			env: this.env,
			publisher: this.publisher,
			mqttCommand: (feed, cmd, operator: Operator) => this.command(feed, cmd, operator),
			mqttAck: (cmd, operator, panel) => this.ackAlarm(cmd.id, { operator: operator.name, panel, via: 'mqtt' }),
			command: (feed, cmd, operator) => this.command(feed, cmd, operator),
			pair: this.ha.pair(),
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

	/** the journal's key (journal.key), for /audit to read a keyed journal; never shown or logged */
	get journalKey(): Buffer | undefined {
		return this.journal.key
	}

	routerOf(id: string): Router | undefined {
		return this.routers.get(id)
	}

	async start(): Promise<void> {
		if (this.phase !== 'created') throw new Error('the daemon starts once')
		this.phase = 'starting'
		const cfg = this.o.config
		// A key whose variable is not set is a SecretError before anything starts (run: exit 78); a directory that
		// cannot be read stops the start. One that can be read but not written opens faulted (§8). Mode and lock come
		// from the checkpoint and the records after it.
		this.recovered = this.journal.open()
		const mono = this.loop.boot()
		const config = this.o.configText !== undefined ? createHash('sha256').update(this.o.configText).digest('hex') : null
		void this.write([
			{ kind: 'boot', payload: { version: VERSION, pid: process.pid, mono, ...(config ? { config } : {}) } },
		])

		await this.surfaces.start()
		await this.ha.start()
		facsOverMqtt(this.surfaces.control, this.facs, this.log)
		// after the boot record (a run begins at its boot record, §8 Timeline, even one held in memory), and once MQTT
		// is connected, so that journal-failed is published as well as logged and journaled; the head from now on
		this.journal.start()

		for (const r of createRouters(cfg, this.log, this.o.takeTimeoutMs)) this.routers.set(r.deviceId, r)
		this.tally.follow()
		this.deviceStale.watch(this.routers, this.sources, this.ups)
		listenToDevices(this.routers, this.sources, this.ups, {
			log: this.log,
			publisher: this.publisher,
			running: () => this.phase === 'running',
			synced: () => this.firstSync?.check(),
			signal: (device, state, at, reason) => this.onDeviceSignal(device, state, at, reason),
			power: (u) => this.onPower(u),
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
				const devices = cfg.devices.map((d) => d.id)
				this.publisher.firstSync(this.model.feeds.keys(), devices)
				this.log.info('every router synced: state published, ready')
			},
			stale: (device, stale, why) => this.deviceStale.firstSync(device, stale, why),
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
		return this.journal.head()
	}

	/** The journal's state (ok, or why not, and the records held in memory), for the status. */
	journalHealth(): JournalHealth | undefined {
		return this.journal.health()
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
		await this.ha.stop()
		await this.surfaces.stop({ offline: !options.keepOnline })
		await Promise.allSettled([...this.routers.values()].map((r) => r.stop()))
		await Promise.allSettled(this.sources.map((s) => s.stop()))
		await Promise.allSettled(this.ups.map((u) => u.stop()))
		await this.traps?.stop()
		await this.journal.close(reason)
		this.phase = 'stopped'
	}

	/**
	 * An operator command: journaled with its operator, its proven panel (null: none) and result; a take resolves once the router confirms. The reply
	 * waits for the command's records to be durable while the journal is healthy; while it is failing (or as soon as
	 * it fails) it waits no longer: the command is applied and acted on all the same, and its records are held in
	 * memory with the rest (§8). The reply never turns into an error because of the disk.
	 */
	async command(
		feed: FeedKey,
		cmd: SetCommand,
		operator: Operator | { name: string; via: string; panel?: string | null },
	): Promise<CommandResult> {
		if (this.phase !== 'running') return { ok: false, error: 'the daemon is not running' }
		const permit = this.ha.mayCommand()
		if (!permit.ok) return { ok: false, error: permit.why }
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
		const { outputs, durable } = this.loop.apply(obs, operator.via, operator.panel ?? null)
		const refusal = outputs.find((o) => o.kind === 'refusal' && o.feed === feed)
		await this.journal.writtenOrQueued(durable)
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
			alarms: () => this.alarms.list(),
			violations: (k) => this.power.feedCompliance(k)?.violations ?? [],
			deviceState: (id) => this.deviceState(id),
			node: this.ha.status(),
			journal: () => this.journal.status(),
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

	/** A feed's active alarm codes: the engine's and the others' (power's at-risk, take-unconfirmed), as raised. */
	feedAlarms(key: FeedKey): string[] {
		return this.alarms.codes(key)
	}

	/** GET /alarms, /status `alarms`: the active alarms, newest first; `all`: and those cleared in the last hour. */
	alarmList(all = false): AlarmRecord[] {
		return this.alarms.list(all)
	}

	/** Acknowledges an alarm (HTTP, MQTT; `panel` the panel or token it came from); it stays active until it clears. */
	ackAlarm(id: string, by: AckBy): AckResult {
		// a pair's standby takes no command (docs/contract.md §9): its alarms are its shadow's; the active's count
		const permit = this.ha.mayCommand()
		if (!permit.ok) return { ok: false, error: permit.why }
		return this.alarms.ack(id, by)
	}

	/** The power model now (undefined before any UPS reported). */
	powerReport(): PowerReport | undefined {
		return this.power.report
	}

	private write(entries: readonly Entry[]): Promise<void> {
		return this.journal.write(entries)
	}

	private onDeviceSignal(device: string, state: 'up' | 'down' | 'degraded' | 'unknown', at: number, reason?: string) {
		if (this.phase !== 'running') return
		const t = this.now()
		const atT = this.loop.toEngineT(at, t)
		this.log.debug({ device, state, at: atT, t, reason }, 'device report')
		this.loop.apply({ type: 'device', t, device, state, ...(atT < t ? { at: atT } : {}) }, 'driver')
		this.publisher.device(device)
	}

	/**
	 * A UPS's power state changed: its reading is journaled (replay gives it to the power monitor as the daemon
	 * does), the power monitor recomputes the power model, the UPS alarms and each feed's live compliance, and the
	 * alarm manager raises or clears what changed.
	 */
	private onPower(u: UpsDevice): void {
		if (this.phase !== 'running') return
		const readings = upsReadings(this.ups)
		const r = readings.get(u.id)!
		const t = this.now()
		this.loop.apply({ type: 'ups', t, ups: u.id, ...r }, 'driver')
		const step = this.power.update(readings)
		for (const u of this.ups) this.publisher.device(u.id)
		this.publisher.feeds(step.changed)
		for (const a of step.alarms) this.alarms.hold(a, t)
	}
}
