// The lab: a simulated BOC on loopback. Every device of the config simulated in its real protocol (sims.ts), a real
// mosquitto with the production ACL (broker.ts), the real daemon against them, and a fault console to cut or degrade
// a path, put a UPS on battery or drop a router connection. `sigpath lab` and `sigpath rehearse` both run it.
import { join } from 'node:path'
import type { Logger } from 'pino'
import type { Config } from '../domain/config.ts'
import { splitListen } from '../domain/primitives.ts'
import { Daemon } from '../runtime/daemon.ts'
import { ruleObjects } from '../../drivers/snmp/sim.ts'
import { startLabBroker, type LabBroker } from './broker.ts'
import { Sims, valueThatHolds } from './sims.ts'
import { venueFault } from './venue-encoder.ts'

/** where the daemon finds its broker password (a secret: never in a config or a log) */
const PASSWORD_ENV = 'SIGPATH_LAB_MQTT_PASSWORD'

export const FAULTS = [
	'cut',
	'restore',
	'degrade',
	'battery',
	'low-battery',
	'online',
	'drop',
	// on an SRT receiver with content checks (venue-encoder.ts): the picture or the sound, not the stream
	'black',
	'freeze',
	'silence',
] as const
export type FaultAction = (typeof FAULTS)[number]

export interface Fault {
	action: FaultAction
	device: string
	/** degrade: the loss rate of an SRT path (default 0.1) */
	rate?: number
}

export class FaultError extends Error {
	override name = 'FaultError'
}

export interface LabOptions {
	config: Config
	log: Logger
	/** the daemon's own logger (quieter in a rehearsal) */
	daemonLog?: Logger
	env?: NodeJS.ProcessEnv
	/** the lab's scratch directory: the broker's password file, ACL, config and log go under it */
	dir: string
	/** extra hook: the status endpoint, started by the caller once the daemon runs */
	onDaemon?: (daemon: Daemon) => Promise<void>
}

export class Lab {
	readonly sims: Sims
	daemon: Daemon | undefined
	/** the lab's mosquitto; none when the config names a broker of its own (`mqtt`) */
	broker: LabBroker | undefined

	constructor(private readonly o: LabOptions) {
		this.sims = new Sims(o.config, o.log, o.env)
	}

	get config(): Config {
		return this.o.config
	}

	/** Starts everything; what started is stopped again when a part fails (nothing is left running). */
	async start(): Promise<void> {
		try {
			await this.startParts()
		} catch (err) {
			await this.stop().catch((e: unknown) => this.o.log.warn({ err: e }, 'lab: stop after a failed start'))
			throw err
		}
	}

	private async startParts(): Promise<void> {
		let config = this.o.config
		const env = { ...(this.o.env ?? process.env) }
		if (!config.mqtt) {
			const listen = config.broker?.listen ?? '127.0.0.1:1883'
			// by port: two labs (each on its own ports) never share or remove each other's broker files
			this.broker = await startLabBroker({ listen, dir: join(this.o.dir, `mosquitto-${splitListen(listen).port}`) })
			env[PASSWORD_ENV] = this.broker.daemon.password
			config = {
				...config,
				mqtt: { url: this.broker.url, username: this.broker.daemon.username, password: { env: PASSWORD_ENV } },
			}
		}
		await this.sims.start()
		this.sims.preset()
		this.daemon = new Daemon({
			config,
			log: this.o.daemonLog ?? this.o.log,
			env,
			firstSyncTimeoutMs: 8000,
		})
		await this.daemon.start()
		await this.o.onDaemon?.(this.daemon)
		// the venue starts sending once the BOC's SRT listeners are bound
		await this.sims.startSenders()
	}

	/** The daemon first (it says offline on the broker), then the devices, then the broker. Once, however often asked. */
	stop(): Promise<void> {
		this.stopped ??= (async () => {
			await this.daemon?.stop('lab stop')
			await this.sims.stop()
			await this.broker?.stop()
		})()
		return this.stopped
	}
	private stopped: Promise<void> | undefined

	get mqttUrl(): string {
		return this.broker?.url ?? this.o.config.mqtt?.url ?? ''
	}

	/** Applies a fault; returns what was done, in an operator's words. Throws FaultError for a fault that does not fit. */
	async fault(f: Fault): Promise<string> {
		const s = this.sims
		const id = f.device
		const srt = s.srt.get(id)
		const profile = s.profiles.get(id)
		const rules = s.rules.get(id)
		const router = s.routers.get(id)
		const snmpUps = s.snmpUps.get(id)
		const nut = s.nut.get(id)
		const megatec = s.megatec.get(id)
		const known = srt ?? profile ?? rules ?? router ?? snmpUps ?? nut ?? megatec
		if (!known) throw new FaultError(`${id} is not a simulated device (simulated: ${this.simulated().join(', ')})`)
		// black, freeze, silence on a venue encoder (and restore clears them before the rest of restore)
		const content = venueFault(s.venues.get(id), f.action, id)
		if (content instanceof Error) throw new FaultError(content.message)
		if (content !== undefined) return content
		switch (f.action) {
			case 'cut':
				if (srt) {
					await s.cutSender(id)
					return `${id}: the venue's SRT sender stopped (cut)`
				}
				if (profile?.profile === 'gateway-2022-7') {
					await profile.agent.setProfile('gateway-2022-7', { leg1Up: 2, leg2Up: 2 })
					return `${id}: both 2022-7 legs down`
				}
				if (profile?.profile === 'ird') {
					await profile.agent.setProfile('ird', { lock: 2 })
					return `${id}: IRD unlocked (carrier lost)`
				}
				if (rules) return this.setRule(id, rules, 'down')
				break
			case 'restore':
				if (srt) {
					await s.startSender(id)
					return `${id}: the venue's SRT sender is back`
				}
				if (profile?.profile === 'gateway-2022-7') {
					await profile.agent.setProfile('gateway-2022-7', { leg1Up: 1, leg2Up: 1 })
					return `${id}: both 2022-7 legs up`
				}
				if (profile?.profile === 'ird') {
					await profile.agent.setProfile('ird', { lock: 1, marginDb: 80 })
					return `${id}: IRD locked, margin 8.0 dB`
				}
				if (rules) {
					for (const [oid, obj] of Object.entries(ruleObjects(rules.rules))) rules.agent.set(oid, obj.value)
					return `${id}: receiving normally`
				}
				break
			case 'degrade':
				if (srt) {
					await s.startSender(id, f.rate ?? 0.1)
					return `${id}: the venue's SRT stream now loses ${((f.rate ?? 0.1) * 100).toFixed(0)} % of its packets`
				}
				if (profile?.profile === 'ird') {
					await profile.agent.setProfile('ird', { lock: 1, marginDb: 4 })
					return `${id}: rain fade: link margin down to 0.4 dB`
				}
				if (profile?.profile === 'gateway-2022-7') {
					await profile.agent.setProfile('gateway-2022-7', { leg2Up: 2 })
					return `${id}: 2022-7 leg 2 down: protection lost, signal still up`
				}
				if (rules) return this.setRule(id, rules, 'degraded')
				break
			case 'battery':
			case 'low-battery':
			case 'online': {
				const low = f.action === 'low-battery'
				if (snmpUps) {
					await snmpUps.setUps(
						f.action === 'online'
							? { outputSource: 3, batteryStatus: 2, minutesRemaining: 60 }
							: { outputSource: 5, batteryStatus: low ? 3 : 2, minutesRemaining: low ? 3 : 25 },
					)
				} else if (nut) {
					nut.sim.set(nut.ups, {
						'ups.status': f.action === 'online' ? 'OL' : low ? 'OB LB' : 'OB',
						'battery.runtime': f.action === 'online' ? '3600' : low ? '180' : '1500',
					})
				} else if (megatec) {
					if (f.action === 'online') megatec.online()
					else megatec.onBattery(low)
				} else break
				return `${id}: ${f.action === 'online' ? 'back on line power' : low ? 'on battery, battery low' : 'on battery'}`
			}
			case 'drop':
				if (router) {
					router.dropClients()
					return `${id}: every control connection dropped (the router reboots its control card)`
				}
				break
		}
		throw new FaultError(`${f.action} does not apply to ${id}`)
	}

	simulated(): string[] {
		const s = this.sims
		return [
			...s.srt.keys(),
			...s.profiles.keys(),
			...s.rules.keys(),
			...s.routers.keys(),
			...s.snmpUps.keys(),
			...s.nut.keys(),
			...s.megatec.keys(),
		]
	}

	private setRule(
		id: string,
		sim: {
			agent: { set(oid: string, v: number | string): void }
			rules: { oid: string; op: string; value: number | string; means: string }[]
		},
		means: 'down' | 'degraded',
	): string {
		const rule = sim.rules.find((r) => r.means === means)
		if (!rule) throw new FaultError(`${id} has no rule that means ${means}`)
		sim.agent.set(rule.oid, valueThatHolds(rule as Parameters<typeof valueThatHolds>[0]))
		return `${id}: ${rule.oid} ${rule.op} ${rule.value} (${means})`
	}
}
