// An SNMP agent simulator (net-snmp's own agent API) for tests and `sigpath lab`: it serves UPS-MIB (RFC 1628)
// and the profile objects of profiles.ts, its values change at runtime, and it sends the notifications a real
// device would when they change (upsTrapOnBattery, upsTrapAlarmEntryAdded/Removed, the profile traps).
// It can fall silent (`silence()`: the agent stops answering, as a hung or unplugged device) and restart.
import * as snmp from 'net-snmp'
import { UPS_ALARM, UPS_ALARM_DESCR, UPS_OID, UPS_TRAP } from '../ups/codec.ts'
import type { ResolvedSnmpDriver, ResolvedSnmpUpsDriver } from '../../src/domain/drivers.ts'
import { normalizeOid, ruleHolds, whyUnevaluable, type Rule, type SnmpValue } from './codec.ts'
import { PROFILE_TRAP, PROFILES, resolveProfile, type ProfileName } from './profiles.ts'
import { freeUdpPort } from './traps.ts'

export type SimType = 'integer' | 'string' | 'counter' | 'gauge' | 'timeticks'

const TAG: Record<SimType, number> = {
	integer: snmp.ObjectType.Integer,
	string: snmp.ObjectType.OctetString,
	counter: snmp.ObjectType.Counter,
	gauge: snmp.ObjectType.Gauge,
	timeticks: snmp.ObjectType.TimeTicks,
}

export interface SimObject {
	type: SimType
	value: number | string
}

export interface TrapTarget {
	host: string
	port: number
	community: string
	/** send informs (acknowledged) instead of traps */
	inform?: boolean
}

export interface SnmpSimOptions {
	host?: string
	/** 0 (default): a free port */
	port?: number
	community?: string
	/** OID (instance, with .0) -> initial value */
	objects?: Record<string, SimObject>
	trapTarget?: TrapTarget
}

/** UPS-MIB objects of a healthy UPS on line power. */
export function upsObjects(): Record<string, SimObject> {
	return {
		[UPS_OID.upsIdentModel]: { type: 'string', value: 'sigpath-sim UPS' },
		[UPS_OID.upsBatteryStatus]: { type: 'integer', value: 2 },
		[UPS_OID.upsSecondsOnBattery]: { type: 'integer', value: 0 },
		[UPS_OID.upsEstimatedMinutesRemaining]: { type: 'integer', value: 42 },
		[UPS_OID.upsEstimatedChargeRemaining]: { type: 'integer', value: 100 },
		[UPS_OID.upsOutputSource]: { type: 'integer', value: 3 },
		[UPS_OID.upsAlarmsPresent]: { type: 'gauge', value: 0 },
	}
}

/** Profile objects at their default OIDs, healthy: both legs up, or locked with a good margin. */
export function profileObjects(profile: ProfileName): Record<string, SimObject> {
	const out: Record<string, SimObject> = {}
	for (const [name, def] of Object.entries(PROFILES[profile])) {
		const counter = /Lost|Late/.test(name)
		out[def.oid] = counter ? { type: 'counter', value: 0 } : { type: 'integer', value: name === 'marginDb' ? 65 : 1 }
	}
	return out
}

export class SnmpAgentSim {
	#agent: snmp.Agent | null = null
	#port: number
	readonly #host: string
	readonly #community: string
	readonly #objects = new Map<string, SimObject>()
	#trapTarget: TrapTarget | undefined
	#trapSession: snmp.Session | null = null
	/** notifications sent (for tests) */
	sentTraps = 0
	/** what the agent or the trap session refused or failed, newest last (bounded) */
	readonly errors: Error[] = []

	constructor(o: SnmpSimOptions = {}) {
		this.#host = o.host ?? '127.0.0.1'
		this.#port = o.port ?? 0
		this.#community = o.community ?? 'public'
		for (const [oid, obj] of Object.entries(o.objects ?? {})) this.#objects.set(oid, { ...obj })
		this.#trapTarget = o.trapTarget
	}

	get port(): number {
		return this.#port
	}

	get running(): boolean {
		return this.#agent !== null
	}

	async start(): Promise<void> {
		if (this.#agent) return
		if (this.#port === 0) this.#port = await freeUdpPort(this.#host)
		const agent = snmp.createAgent(
			{ port: this.#port, address: this.#host, transport: this.#host.includes(':') ? 'udp6' : 'udp4' },
			(err) => {
				// authorization failures and requests for objects we do not serve: the agent answered; keep a record
				if (err) this.#keep(err)
			},
		)
		agent.getAuthorizer().addCommunity(this.#community)
		const mib = agent.getMib()
		for (const [oid, obj] of this.#objects) {
			mib.registerProvider({
				name: oid,
				type: snmp.MibProviderType.Scalar,
				oid: oid.replace(/\.0$/, ''),
				scalarType: TAG[obj.type],
				maxAccess: snmp.MaxAccess['read-write'] ?? 4,
			})
			mib.setScalarValue(oid, obj.value)
		}
		this.#agent = agent
	}

	/** Stop answering (the port is released): a hung, unplugged or rebooting device. */
	async silence(): Promise<void> {
		const a = this.#agent
		this.#agent = null
		if (a) await new Promise<void>((resolve) => a.close(() => resolve()))
	}

	/** An agent restart: silent, then back on the same port with the same values. */
	async restart(): Promise<void> {
		await this.silence()
		await this.start()
	}

	async stop(): Promise<void> {
		await this.silence()
		this.#trapSession?.close()
		this.#trapSession = null
	}

	setTrapTarget(t: TrapTarget | undefined): void {
		this.#trapSession?.close()
		this.#trapSession = null
		this.#trapTarget = t
	}

	get(oid: string): number | string | undefined {
		return this.#objects.get(oid)?.value
	}

	/** Change one value (no notification). */
	set(oid: string, value: number | string): void {
		const obj = this.#objects.get(oid)
		if (!obj) throw new Error(`sim: ${oid} is not served`)
		obj.value = value
		this.#agent?.getMib().setScalarValue(oid, value)
	}

	/**
	 * Change the UPS the way a real one changes, with its notifications: upsOutputSource to battery sends
	 * upsTrapOnBattery; a low or depleted battery adds its well-known alarm (upsTrapAlarmEntryAdded); back to
	 * normal removes it.
	 */
	async setUps(state: {
		outputSource?: number
		batteryStatus?: number
		minutesRemaining?: number
		chargePercent?: number
	}): Promise<void> {
		const wasSource = this.get(UPS_OID.upsOutputSource)
		const wasBattery = this.get(UPS_OID.upsBatteryStatus)
		if (state.minutesRemaining !== undefined) this.set(UPS_OID.upsEstimatedMinutesRemaining, state.minutesRemaining)
		if (state.chargePercent !== undefined) this.set(UPS_OID.upsEstimatedChargeRemaining, state.chargePercent)
		if (state.batteryStatus !== undefined) this.set(UPS_OID.upsBatteryStatus, state.batteryStatus)
		if (state.outputSource !== undefined) {
			this.set(UPS_OID.upsOutputSource, state.outputSource)
			this.set(UPS_OID.upsSecondsOnBattery, state.outputSource === 5 ? 1 : 0)
		}
		const low = (b: unknown) => b === 3 || b === 4
		if (state.outputSource === 5 && wasSource !== 5) await this.notify(UPS_TRAP.onBattery, [])
		if (state.batteryStatus !== undefined && low(state.batteryStatus) !== low(wasBattery)) {
			const alarm = state.batteryStatus === 4 ? UPS_ALARM.depletedBattery : UPS_ALARM.lowBattery
			this.set(UPS_OID.upsAlarmsPresent, low(state.batteryStatus) ? 1 : 0)
			await this.notify(low(state.batteryStatus) ? UPS_TRAP.alarmEntryAdded : UPS_TRAP.alarmEntryRemoved, [
				{ oid: `${UPS_ALARM_DESCR}.1`, type: snmp.ObjectType.OID, value: alarm },
			])
		}
	}

	/** Change profile objects by name (e.g. { leg2Up: 2 }) and send the profile's notification. */
	async setProfile(profile: ProfileName, values: Record<string, number>): Promise<void> {
		for (const [name, v] of Object.entries(values)) {
			const def = PROFILES[profile][name]
			if (!def) throw new Error(`sim: ${name} is not an object of ${profile}`)
			this.set(def.oid, v)
		}
		await this.notify(PROFILE_TRAP[profile], [])
	}

	/** Send one notification to the trap target (nothing when there is none). */
	async notify(trapOid: string, varbinds: snmp.Varbind[]): Promise<void> {
		const t = this.#trapTarget
		if (!t) return
		this.#trapSession ??= this.#makeTrapSession(t)
		const s = this.#trapSession
		this.sentTraps++
		await new Promise<void>((resolve, reject) => {
			const cb = (err: Error | null) =>
				err ? reject(new Error('sim: notification failed', { cause: err })) : resolve()
			if (t.inform) s.inform(trapOid, varbinds, cb)
			else s.trap(trapOid, varbinds, cb)
		})
	}

	#keep(err: Error): void {
		if (this.errors.length >= 100) this.errors.shift()
		this.errors.push(err)
	}

	#makeTrapSession(t: TrapTarget): snmp.Session {
		const s = snmp.createSession(t.host, t.community, {
			version: snmp.Version2c,
			trapPort: t.port,
			timeout: 500,
			retries: 1,
			transport: t.host.includes(':') ? 'udp6' : 'udp4',
		})
		// see session.ts: net-snmp mis-emits socket errors; a sim must never crash its host either
		s.on('error', (err: Error) => this.#keep(err))
		s.dgram.on('error', (err) => this.#keep(err))
		return s
	}
}

/**
 * A simulator for a configured device (for `sigpath lab`): it listens where the config says the agent is, with
 * the configured community, and serves what the driver reads, healthy: UPS-MIB on line power for snmp-ups; the
 * profile objects (at the vendor's OIDs when profileOids maps them) for a profile; for rules, one value per rule
 * OID that matches none of the rules (so the device starts up). SNMPv3 devices are served over v2c only: the sim
 * has no USM users (a lab config uses communities).
 */
export function simForDriver(cfg: ResolvedSnmpUpsDriver | ResolvedSnmpDriver, trapTarget?: TrapTarget): SnmpAgentSim {
	const community = cfg.community ?? 'public'
	let objects: Record<string, SimObject>
	if (cfg.type === 'snmp-ups') objects = upsObjects()
	else if (cfg.profile) {
		const oids = resolveProfile(cfg.profile, cfg.profileOids ?? {})
		const byDefault = profileObjects(cfg.profile)
		objects = {}
		for (const [name, def] of Object.entries(PROFILES[cfg.profile])) {
			const oid = oids.get(name)
			const obj = byDefault[def.oid]
			if (oid !== undefined && obj) objects[oid] = obj
		}
	} else objects = ruleObjects(cfg.rules ?? [])
	return new SnmpAgentSim({ host: cfg.host, port: cfg.port, community, objects, ...(trapTarget ? { trapTarget } : {}) })
}

/** One value per rule OID that every rule on that OID can evaluate and none holds for. */
export function ruleObjects(rules: readonly Rule[]): Record<string, SimObject> {
	const out: Record<string, SimObject> = {}
	const byOid = new Map<string, Rule[]>()
	for (const r of rules) byOid.set(normalizeOid(r.oid), [...(byOid.get(normalizeOid(r.oid)) ?? []), r])
	for (const [oid, rs] of byOid) {
		const numeric = rs.every((r) => typeof r.value === 'number')
		const candidates: (number | string)[] = numeric
			? [0, 1, 2, -1, 100, 1000, 1e6, ...rs.flatMap((r) => [Number(r.value) + 1, Number(r.value) - 1])]
			: ['OK', 'up', 'LOCKED', '1', '0', '-1', '1000', '', ...rs.map((r) => `${String(r.value)}-not`)]
		// a value a rule cannot evaluate (text where a number rule reads) is unknown, not "holds for nothing": the
		// value must be one every rule can judge, and none holds
		const quiet = candidates.find((c) =>
			rs.every((r) => {
				const v: SnmpValue = { oid, type: numeric ? 'integer' : 'string', value: c }
				return whyUnevaluable(r, v) === null && !ruleHolds(r, v)
			}),
		)
		out[oid] = numeric ? { type: 'integer', value: Number(quiet ?? 0) } : { type: 'string', value: String(quiet ?? '') }
	}
	return out
}
