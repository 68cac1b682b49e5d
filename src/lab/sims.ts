// Simulators for every device of a config, on the addresses the config gives, each in its real protocol: the lab
// (`sigpath lab`) and rehearsals (`sigpath rehearse`) run the real daemon against them.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import type { Logger } from 'pino'
import { MegatecSim } from '../../drivers/megatec/sim.ts'
import { NutSim } from '../../drivers/nut/sim.ts'
import { simForDriver, type SnmpAgentSim } from '../../drivers/snmp/sim.ts'
import { SrtSim } from '../../drivers/srt/sim.ts'
import { Swp08Sim } from '../../drivers/swp08/sim.ts'
import { VideohubSim } from '../../drivers/videohub/sim.ts'
import type { Config, Device } from '../domain/config.ts'
import { analysed, type SnmpRule } from '../domain/drivers.ts'
import { rankPaths } from '../domain/model.ts'
import { splitListen } from '../domain/primitives.ts'
import { resolveSecrets } from '../domain/secrets.ts'
import { VenueEncoder } from './venue-encoder.ts'

export type RouterSim = VideohubSim | Swp08Sim

export interface SrtSenderSim {
	device: string
	sender: SrtSim | null
	options: ConstructorParameters<typeof SrtSim>[0]
	/** the lab wants it sending (false once cut) */
	wanted?: boolean
	lossRate?: number
	retry?: NodeJS.Timeout | undefined
}

export interface RuleSim {
	agent: SnmpAgentSim
	rules: SnmpRule[]
}

/** Every simulator of the lab, by device id. */
export class Sims {
	readonly routers = new Map<string, RouterSim>()
	readonly snmpUps = new Map<string, SnmpAgentSim>()
	readonly profiles = new Map<string, { agent: SnmpAgentSim; profile: 'gateway-2022-7' | 'ird' }>()
	readonly rules = new Map<string, RuleSim>()
	readonly nut = new Map<string, { sim: NutSim; ups: string }>()
	readonly megatec = new Map<string, MegatecSim>()
	readonly srt = new Map<string, SrtSenderSim>()
	/** the venue senders of SRT devices with content checks: real ffmpeg pictures and sound (venue-encoder.ts) */
	readonly venues = new Map<string, VenueEncoder>()
	private venueDir: string | undefined
	private readonly nutByAddress = new Map<string, NutSim>()
	private readonly children: ChildProcess[] = []
	readonly notes: string[] = []
	private stopped = false

	constructor(
		private readonly config: Config,
		private readonly log: Logger,
		private readonly env: NodeJS.ProcessEnv = process.env,
	) {}

	/** Starts the device simulators (not the SRT senders: startSenders(), once the daemon listens). */
	async start(): Promise<void> {
		const trapTarget = this.config.traps ? splitListen(this.config.traps.listen) : undefined
		// the simulators serve what the drivers will ask with: the same secrets, resolved the same way
		const config = resolveSecrets(this.config, this.env)
		const trapCommunity = config.traps?.community ?? 'public'
		for (const d of config.devices) {
			const drv = d.driver
			if (!drv) continue
			switch (drv.type) {
				case 'videohub': {
					const sim = new VideohubSim({ inputs: d.size?.inputs ?? 40, outputs: d.size?.outputs ?? 40 })
					await sim.start({ host: drv.host, port: drv.port })
					this.routers.set(d.id, sim)
					break
				}
				case 'swp08': {
					const sim = new Swp08Sim({ inputs: d.size?.inputs ?? 64, outputs: d.size?.outputs ?? 64 })
					if (drv.host !== undefined) await sim.start({ host: drv.host, port: drv.port })
					else if (drv.serial) {
						const simPath = await this.ptyPair(drv.serial.path)
						if (!simPath) break
						await sim.start({ serialPath: simPath, baudRate: drv.serial.baudRate })
					}
					this.routers.set(d.id, sim)
					break
				}
				case 'snmp-ups':
				case 'snmp': {
					// drivers/snmp/sim.ts builds a healthy agent for the driver's config (UPS-MIB, a profile with the
					// vendor's profileOids, or values that match none of the rules)
					const agent = simForDriver(
						drv,
						drv.traps && trapTarget
							? { host: trapTarget.host, port: trapTarget.port, community: trapCommunity }
							: undefined,
					)
					await agent.start()
					if (drv.type === 'snmp-ups') this.snmpUps.set(d.id, agent)
					else if (drv.profile) this.profiles.set(d.id, { agent, profile: drv.profile })
					else this.rules.set(d.id, { agent, rules: drv.rules ?? [] })
					break
				}
				case 'nut': {
					const key = `${drv.host}:${drv.port}`
					let sim = this.nutByAddress.get(key)
					const upsNames = this.config.devices.filter(
						(x) => x.driver?.type === 'nut' && `${x.driver.host}:${x.driver.port}` === key,
					)
					if (!sim) {
						sim = new NutSim({
							host: drv.host,
							port: drv.port,
							ups: Object.fromEntries(
								upsNames.map((x) => [
									(x.driver as { ups: string }).ups,
									{
										description: `lab UPS for ${x.id}`,
										vars: {
											'ups.status': 'OL',
											'battery.charge': '100',
											'battery.runtime': '3600',
											'ups.model': 'sigpath lab UPS',
										},
									},
								]),
							),
						})
						await sim.start()
						this.nutByAddress.set(key, sim)
					}
					this.nut.set(d.id, { sim, ups: drv.ups })
					break
				}
				case 'megatec': {
					const simPath = await this.ptyPair(drv.serial.path)
					if (!simPath) break
					const sim = new MegatecSim({ path: simPath, baudRate: drv.serial.baudRate })
					await sim.start()
					this.megatec.set(d.id, sim)
					break
				}
				case 'srt': {
					if (drv.mode !== 'listener') {
						this.notes.push(`${d.id}: an SRT caller; the lab simulates venue senders only for listeners`)
						break
					}
					const passphrase = drv.passphrase
					if (analysed(drv.content)) {
						const host = drv.bind === '0.0.0.0' ? '127.0.0.1' : drv.bind
						// its frame and sound files are this lab's own: two labs at once (a rehearsal beside the lab) never share them
						this.venueDir ??= mkdtempSync(join(tmpdir(), 'sigpath-venue-'))
						const o = {
							device: d.id,
							host,
							port: drv.port,
							latencyMs: drv.latencyMs,
							dir: this.venueDir,
							log: this.log,
						}
						this.venues.set(d.id, new VenueEncoder({ ...o, ...(drv.streamId ? { streamId: drv.streamId } : {}) }))
					}
					this.srt.set(d.id, {
						device: d.id,
						sender: null,
						options: {
							mode: 'caller',
							host: drv.bind === '0.0.0.0' ? '127.0.0.1' : drv.bind,
							port: drv.port,
							bitrate: 2_000_000,
							latencyMs: drv.latencyMs,
							...(drv.streamId !== undefined ? { streamId: drv.streamId } : {}),
							...(passphrase !== undefined ? { passphrase, pbkeylen: drv.pbkeylen } : {}),
							log: this.log.child({ sim: d.id }),
						},
					})
					break
				}
			}
		}
	}

	/**
	 * The pre-show state of the simulated routers: every feed's output on its primary path, as the BOC would have
	 * set it up before going live (the daemon reads it at start; it never sets it itself).
	 */
	preset(): void {
		for (const ev of this.config.events)
			for (const feed of ev.feeds) {
				const router = this.routers.get(feed.output.router)
				const primary = rankPaths(feed.paths, this.config.policy.approvedMethods)[0]
				if (router && primary) router.route(feed.output.output - 1, primary.input.input - 1)
			}
	}

	/** Starts every venue SRT sender (the daemon's listeners must be bound). */
	async startSenders(): Promise<void> {
		await Promise.all([...this.srt.keys()].map((id) => this.startSender(id)))
	}

	/**
	 * The venue's encoder calls in, and keeps calling like a real one: when its call fails or drops (the BOC's
	 * listener not bound yet, restarting), it redials every second until it is cut or the lab stops.
	 */
	async startSender(id: string, lossRate?: number): Promise<void> {
		const s = this.srt.get(id)
		if (!s) throw new Error(`${id} is not a simulated SRT sender`)
		s.wanted = true
		s.lossRate = lossRate ?? 0
		const venue = this.venues.get(id)
		if (venue) return venue.start()
		await this.dial(s)
	}

	/** The venue's sender stops (its socket closed): the stream stops at once. No redial. */
	async cutSender(id: string): Promise<void> {
		const s = this.srt.get(id)
		if (!s) throw new Error(`${id} is not a simulated SRT sender`)
		s.wanted = false
		if (s.retry) clearTimeout(s.retry)
		s.retry = undefined
		await s.sender?.cut()
		await this.venues.get(id)?.cut()
	}

	private async dial(s: SrtSenderSim): Promise<void> {
		if (s.retry) clearTimeout(s.retry)
		s.retry = undefined
		await s.sender?.stop()
		const me = new SrtSim({ ...s.options, lossRate: s.lossRate ?? 0 })
		s.sender = me
		const redial = () => {
			if (!s.wanted || s.sender !== me || this.stopped || s.retry) return
			s.retry = setTimeout(() => {
				s.retry = undefined
				this.dial(s).catch((err: unknown) => this.log.warn({ err, device: s.device }, 'lab: SRT sender redial failed'))
			}, 1000)
		}
		me.on('closed', redial)
		me.on('rejected', redial)
		me.on('disconnected', redial)
		try {
			await me.start()
		} catch (err) {
			this.log.debug({ err, device: s.device }, 'lab: SRT sender could not call; redialling')
			redial()
		}
	}

	async stop(): Promise<void> {
		this.stopped = true
		for (const v of this.venues.values()) await v.stop()
		if (this.venueDir) rmSync(this.venueDir, { recursive: true, force: true })
		for (const s of this.srt.values()) {
			if (s.retry) clearTimeout(s.retry)
			await s.sender?.stop()
		}
		for (const r of this.routers.values()) await r.stop()
		for (const a of this.snmpUps.values()) await a.stop()
		for (const p of this.profiles.values()) await p.agent.stop()
		for (const r of this.rules.values()) await r.agent.stop()
		for (const n of this.nutByAddress.values()) await n.stop()
		for (const m of this.megatec.values()) await m.stop()
		// the socat pty pairs: gone before the lab says it stopped (a lab leaves no process behind)
		await Promise.all(
			this.children.splice(0).map(
				(c) =>
					new Promise<void>((resolve) => {
						if (c.exitCode !== null || c.signalCode !== null) return resolve()
						c.once('exit', () => resolve())
						c.kill('SIGTERM')
					}),
			),
		)
		process.off('exit', this.killChildren)
	}

	/** a lab that dies without stopping must not leave its pty pairs behind */
	private readonly killChildren = (): void => {
		for (const c of this.children) c.kill('SIGKILL')
	}

	/**
	 * A pty pair for a serial device: the daemon opens `path` (as configured), the simulator the other end.
	 * Needs socat; without it the device is left unsimulated, and said so.
	 */
	private async ptyPair(path: string): Promise<string | undefined> {
		if (spawnSync('sh', ['-c', 'command -v socat']).status !== 0) {
			this.notes.push(`${path}: socat is not installed (apt-get install socat): this serial device is not simulated`)
			return undefined
		}
		const daemonEnd = resolve(path)
		const simEnd = `${daemonEnd}-sim`
		mkdirSync(dirname(daemonEnd), { recursive: true })
		const child = spawn('socat', [`pty,raw,echo=0,link=${daemonEnd}`, `pty,raw,echo=0,link=${simEnd}`], {
			stdio: 'ignore',
		})
		if (this.children.push(child) === 1) process.once('exit', this.killChildren)
		const deadline = Date.now() + 3000
		while (!(existsSync(daemonEnd) && existsSync(simEnd))) {
			if (Date.now() > deadline) {
				this.notes.push(`${path}: socat did not make the pty pair`)
				return undefined
			}
			await new Promise((r) => setTimeout(r, 20))
		}
		return simEnd
	}
}

/** A value of the OID that makes `rule` hold. */
export function valueThatHolds(rule: SnmpRule): number | string {
	const v = rule.value
	if (typeof v === 'string') return rule.op === 'ne' ? `${v}-not` : v
	switch (rule.op) {
		case 'eq':
		case 'le':
		case 'ge':
			return v
		case 'lt':
			return v - 1
		case 'gt':
		case 'ne':
			return v + 1
	}
}

export type { Device }
