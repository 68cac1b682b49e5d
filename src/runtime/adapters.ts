// The drivers of a config, as the runtime consumes them: signal sources (SRT receivers, SNMP gateways, IRDs and
// receivers) and UPS devices. Drivers know nothing of feeds; these adapters only translate their events into the
// small SignalSource vocabulary.
import { EventEmitter } from 'node:events'
import {
	createSignalDevice,
	createTrapReceiver,
	type SnmpSignalDevice,
	type TrapReceiver,
} from '../../drivers/snmp/index.ts'
import { SrtReceiver } from '../../drivers/srt/connection.ts'
import { createRouter, type Router } from '../../drivers/router/index.ts'
import { createUpsDevice, upsProbeResult, type UpsDevice } from '../../drivers/ups/index.ts'
import { DriverUnavailableError, type DriverContext, type Freshness, type Health } from '../../drivers/types.ts'
import type { DeviceState } from '../control/payloads.ts'
import type { Config } from '../domain/config.ts'
import { staleMsOf, type ResolvedSrtDriver } from '../domain/drivers.ts'
import { avSyncDevices } from '../domain/facs.ts'
import { resolveSecrets } from '../domain/secrets.ts'
import type { UpsReading } from '../rule/power.ts'
import { ContentSource } from './content.ts'
import type { SignalSource, SignalSourceEvents } from './devices.ts'
import type { Syncable } from './first-sync.ts'

/** An SRT receiver as a signal source: synced once a listener is bound or a caller's first attempt has run. */
export class SrtSource extends EventEmitter<SignalSourceEvents> implements SignalSource {
	readonly rx: SrtReceiver
	private synced = false
	private lastError: string | undefined
	/** why this receiver can never run here (the SRT binding missing), shown in its state */
	private unavailable: string | undefined

	constructor(
		readonly deviceId: string,
		config: ResolvedSrtDriver,
		private readonly ctx: DriverContext,
	) {
		super()
		this.rx = new SrtReceiver(config, { ...ctx, log: ctx.log.child({ device: deviceId }) })
		this.rx.on('signal', (o) => this.emit('signal', { state: o.signal, at: o.at, reason: o.cause }))
		this.rx.on('state', () => this.emit('status'))
		this.rx.on('connected', () => this.emit('status'))
		this.rx.on('disconnected', () => this.emit('status'))
		this.rx.on('rejected', () => this.emit('status'))
	}

	start(): void {
		// a listener is through its first sync once bound, never before: one that cannot bind (the port taken, an
		// address not on this host) keeps retrying and stays on /readyz's waiting list with the reason
		this.rx.on('retrying', ({ error }) => {
			this.lastError = error.message
			this.emit('status')
		})
		const caller = this.rx.config.mode === 'caller'
		this.rx.on('state', (s) => {
			if (s === 'listening' || s === 'connected' || (caller && s === 'connecting')) this.markSynced()
		})
		this.rx.start().then(
			() => this.markSynced(),
			(err: unknown) => {
				this.lastError = err instanceof Error ? err.message : String(err)
				if (err instanceof DriverUnavailableError) {
					// No binding, no receiver, and no retry will bring one: said once, loudly, with the fix; the device
					// stays down in its state (never a signal), its paths keep no report from it, and it is never
					// counted as synced: /readyz names it, and at startup.readyTimeoutMs it stands as device-stale
					this.unavailable = err.message
					this.ctx.log.error({ device: this.deviceId }, `SRT device ${this.deviceId} cannot run: ${err.message}`)
				} else this.ctx.log.error({ err, device: this.deviceId }, 'SRT receiver could not start; retrying')
			},
		)
	}

	why(): string {
		if (this.unavailable !== undefined) return `cannot run: ${this.unavailable}`
		return this.lastError !== undefined ? `cannot start: ${this.lastError}` : 'starting'
	}

	private markSynced(): void {
		if (this.synced) return
		this.synced = true
		this.emit('synced')
	}

	async stop(): Promise<void> {
		this.rx.stop()
	}

	isSynced(): boolean {
		return this.synced
	}

	status(): { connected: boolean; health: Health; detail: Record<string, unknown> } {
		const rx = this.rx
		return {
			connected: rx.freshness.connected,
			health: rx.health,
			detail: {
				...(this.unavailable !== undefined ? { error: this.unavailable } : {}),
				state: rx.state,
				signal: rx.signal?.signal ?? null,
				// the signal's cause, and why it is degraded now (loss, `ts-errors: ...`) while it is
				cause: rx.signal?.cause ?? null,
				...(rx.degradedCause !== null ? { degraded: rx.degradedCause } : {}),
				...(rx.tsCheck ? { ts: { ...rx.tsCheck.counts, cause: rx.tsCheck.cause } } : {}),
				connections: rx
					.connections()
					.filter((c) => c.disconnectedAt === null)
					.map((c) => ({
						peer: c.peer,
						streamId: c.streamId,
						rttMs: c.rttMs,
						packetsReceived: c.packetsReceived,
						packetsLost: c.packetsLost,
						packetsDropped: c.packetsDropped,
					})),
				rejected: rx
					.rejections()
					.slice(-5)
					.map((r) => ({ peer: r.peer, reason: r.reason })),
			},
		}
	}
}

/** An SNMP signal device (2022-7 gateway, IRD, receiver) as a signal source. */
export class SnmpSource extends EventEmitter<SignalSourceEvents> implements SignalSource {
	constructor(readonly dev: SnmpSignalDevice) {
		super()
		dev.on('signal', (s) =>
			this.emit('signal', { state: s.signal, at: s.at, ...(s.reason !== undefined ? { reason: s.reason } : {}) }),
		)
		dev.on('synced', () => this.emit('synced'))
		dev.on('freshness', () => this.emit('status'))
		dev.on('reading', () => this.emit('status'))
	}
	get deviceId(): string {
		return this.dev.id
	}
	start(): void {
		this.dev.start()
	}
	stop(): Promise<void> {
		return this.dev.stop()
	}
	isSynced(): boolean {
		return this.dev.synced
	}
	freshness(): Freshness {
		return this.dev.freshness
	}
	status(): { connected: boolean; health: Health; detail: Record<string, unknown> } {
		const p = this.dev.probeResult()
		return { connected: p.connected, health: p.health, detail: p.detail }
	}
}

export interface Drivers {
	sources: SignalSource[]
	ups: UpsDevice[]
	traps: TrapReceiver | null
}

/**
 * Every signal and UPS driver of the config (routers are made by the daemon itself). Nothing is started. The
 * config's secrets are resolved here, from `env`, before any driver sees them: a missing variable throws SecretError.
 */
export function createDrivers(unresolved: Config, env: DriverContext & { env: NodeJS.ProcessEnv }): Drivers {
	const config = resolveSecrets(unresolved, env.env)
	const ctx: DriverContext = { log: env.log }
	const traps = createTrapReceiver(config, ctx)
	const sources: SignalSource[] = []
	const ups: UpsDevice[] = []
	const avSync = avSyncDevices(unresolved)
	for (const d of config.devices) {
		const drv = d.driver
		if (!drv) continue
		const staleAfterMs = staleMsOf(drv, config.drivers?.staleMs)
		const deps = { ...ctx, ...(traps ? { traps } : {}), ...(staleAfterMs !== undefined ? { staleAfterMs } : {}) }
		if (drv.type === 'srt') {
			const src = new SrtSource(d.id, drv, ctx)
			sources.push(drv.content ? new ContentSource(src, drv, { ...ctx, avSync: avSync.has(d.id) }) : src)
		} else if (drv.type === 'snmp') {
			const dev = createSignalDevice(d, deps)
			if (dev) sources.push(new SnmpSource(dev))
		} else {
			const u = createUpsDevice(d, deps)
			if (u) ups.push(u)
		}
	}
	return { sources, ups, traps }
}

/** Every router of the config (a router driver), not started, each with its staleMs and the take timeout. */
export function createRouters(config: Config, log: DriverContext['log'], takeTimeoutMs?: number): Router[] {
	const routers: Router[] = []
	for (const d of config.devices) {
		if (d.role !== 'router' || !d.driver) continue
		const staleAfterMs = staleMsOf(d.driver, config.drivers?.staleMs)
		routers.push(
			createRouter(
				d,
				{ log },
				{
					...(takeTimeoutMs ? { takeTimeoutMs } : {}),
					...(staleAfterMs !== undefined ? { staleAfterMs } : {}),
				},
			),
		)
	}
	return routers
}

/** Each UPS's latest reading, as the power monitor reads it (a UPS that never answered is `power: null`). */
export function upsReadings(ups: readonly UpsDevice[]): Map<string, UpsReading> {
	return new Map(
		ups.map((u) => [
			u.id,
			{
				power: u.status.reading?.power ?? null,
				commLost: u.status.commLost,
				minutesRemaining: u.status.reading?.minutesRemaining ?? null,
			},
		]),
	)
}

/** A device's state as MQTT and the status endpoint publish it: a router's, a UPS's or a signal device's. */
export function deviceStateOf(
	id: string,
	d: { routers: ReadonlyMap<string, Router>; ups: readonly UpsDevice[]; sources: readonly SignalSource[] },
): DeviceState | undefined {
	const router = d.routers.get(id)
	if (router) {
		const s = router.status()
		return {
			connected: s.connected,
			health: s.health,
			detail: { routing: s.routing, locks: s.locks, synced: s.synced, stale: s.freshness.stale },
		}
	}
	const ups = d.ups.find((u) => u.id === id)
	if (ups) {
		const p = upsProbeResult(id, ups.status)
		return { connected: p.connected, health: p.health, detail: p.detail }
	}
	return d.sources.find((s) => s.deviceId === id)?.status()
}

/** Every device with a driver, as the first sync sees it: routers first (they gate the first publication). */
export function syncables(
	routers: ReadonlyMap<string, Router>,
	sources: readonly SignalSource[],
	ups: readonly UpsDevice[],
): Syncable[] {
	return [
		...[...routers.values()].map((r) => ({
			id: r.deviceId,
			router: true,
			synced: () => r.isSynced(),
			why: () => {
				const s = r.status()
				if (!s.connected) return `not connected${s.problem ? `: ${s.problem}` : ''}`
				return 'connected; its routing not read yet'
			},
		})),
		...sources.map((s) => ({
			id: s.deviceId,
			router: false,
			synced: () => s.isSynced(),
			why: () => s.why?.() ?? 'no answer yet',
		})),
		...ups.map((u) => ({
			id: u.id,
			router: false,
			synced: () => u.synced,
			why: () => (u.status.commLost ? 'no answer (contact lost)' : 'no answer yet'),
		})),
	]
}
