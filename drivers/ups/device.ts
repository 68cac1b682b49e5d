// A UPS over SNMP (driver `snmp-ups`): UPS-MIB polled with GET, UPS traps acted on at once.
//
// Traps (RFC 1628 §5): upsTrapOnBattery is the device telling us it is on battery, so the power state changes to
// on-battery the moment it arrives (unless a lower state, low-battery, is already known) and a poll is made at
// once to read the rest. Alarm added/removed trigger an immediate poll; the well-known low/depleted-battery and
// output-off alarms change the state at once too. Nothing is inferred that the device did not say.
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { ResolvedSnmpUpsDriver } from '../../src/domain/drivers.ts'
import type { Freshness } from '../types.ts'
import type { SnmpValue } from '../snmp/codec.ts'
import { SnmpPoller } from '../snmp/connection.ts'
import type { Notification, TrapReceiver } from '../snmp/traps.ts'
import {
	alarmName,
	classifyUpsTrap,
	decodeUps,
	UPS_ALARM,
	UPS_ALARM_DESCR,
	UPS_POLL_OIDS,
	UpsDecodeError,
} from './codec.ts'
import { UpsTracker } from './tracker.ts'
import type { UpsDevice, UpsEvents, UpsPower, UpsReading, UpsStatus } from './types.ts'

export interface SnmpUpsOptions {
	id: string
	/** secrets resolved by the caller */
	config: ResolvedSnmpUpsDriver
	log: Logger
	/** the daemon's trap receiver; used when config.traps is true */
	traps?: TrapReceiver
	/** overrides for tests: stale and comm-lost thresholds */
	staleAfterMs?: number
	commLostAfterMs?: number
}

export class SnmpUpsDevice extends EventEmitter<UpsEvents> implements UpsDevice {
	readonly id: string
	readonly #poller: SnmpPoller
	readonly #log: Logger
	readonly #ups: UpsTracker
	#unsubscribe: (() => void) | null = null
	readonly #traps: TrapReceiver | undefined
	readonly #host: string
	/** the reading accept() decoded from the answer the poller is about to hand to #onValues */
	#accepted: UpsReading | null = null
	/** the last answer was refused (not a UPS-MIB answer): warned once per run of them, not every poll */
	#refusing = false

	constructor(o: SnmpUpsOptions) {
		super()
		this.id = o.id
		this.#log = o.log.child({ device: o.id })
		this.#traps = o.config.traps ? o.traps : undefined
		if (o.config.traps && !o.traps) this.#log.warn('traps: true but no trap receiver is configured (top-level traps)')
		this.#host = o.config.host
		this.#poller = new SnmpPoller({
			device: o.id,
			target: o.config,
			oids: UPS_POLL_OIDS,
			pollMs: o.config.pollMs,
			accept: (values) => this.#accept(values),
			log: this.#log,
			...(o.staleAfterMs !== undefined ? { staleAfterMs: o.staleAfterMs } : {}),
			...(o.commLostAfterMs !== undefined ? { commLostAfterMs: o.commLostAfterMs } : {}),
		})
		this.#poller.on('values', (v) => this.#onValues(v))
		this.#poller.on('failed', (err) => {
			this.#log.debug({ err }, 'ups poll failed')
			this.emit('fault', err)
		})
		// freshness and comm-lost are the poller's (an answered poll that decodes is the only sign of a connection)
		this.#ups = new UpsTracker(this, this.#log, this.#poller.tracker)
	}

	get status(): UpsStatus {
		return this.#ups.status
	}

	get freshness(): Freshness {
		return this.#poller.freshness
	}

	get synced(): boolean {
		return this.#ups.synced
	}

	start(): void {
		if (this.#traps && !this.#unsubscribe)
			this.#unsubscribe = this.#traps.subscribe(this.#host, (n) => this.handleTrap(n))
		this.#poller.start()
	}

	async stop(): Promise<void> {
		this.#unsubscribe?.()
		this.#unsubscribe = null
		this.#poller.stop()
	}

	/** Poll now (a trap or an operator asked). */
	refresh(): void {
		this.#poller.pollNow()
	}

	/** A notification from this UPS's address (the receiver routes by source address). */
	handleTrap(n: Notification): void {
		const meaning = classifyUpsTrap(n.trapOid, n.varbinds)
		this.#log.info({ trap: meaning.kind, inform: n.inform }, 'ups trap')
		if (meaning.kind === 'other') return
		// several UPS agents behind one address: the trap may be another's; the poll it triggers tells
		if ((this.#traps?.subscribersOf(this.#host) ?? 1) > 1) {
			this.#poller.pollNow()
			return
		}
		if (meaning.kind === 'on-battery') this.#trapSays('on-battery')
		else if (meaning.kind === 'alarm-added') {
			if (meaning.alarm === UPS_ALARM.lowBattery || meaning.alarm === UPS_ALARM.depletedBattery)
				this.#trapSays('low-battery', meaning.alarm === UPS_ALARM.depletedBattery)
			else if (meaning.alarm === UPS_ALARM.onBattery) this.#trapSays('on-battery')
			else if (meaning.alarm === UPS_ALARM.onBypass) this.#trapSays('bypass')
			else if (
				meaning.alarm === UPS_ALARM.upsOutputOff ||
				meaning.alarm === UPS_ALARM.outputOffAsRequested ||
				meaning.alarm === UPS_ALARM.upsOffAsRequested ||
				meaning.alarm === UPS_ALARM.upsSystemOff
			)
				this.#trapSays('off')
		}
		this.#poller.pollNow()
	}

	#trapSays(power: UpsPower, depleted = false): void {
		const prev = this.#ups.reading
		if (prev?.power === power) return
		// on-battery never overrides a known low battery: the trap is older news than the alarm
		if (power === 'on-battery' && prev?.power === 'low-battery') return
		this.#ups.overrideReading({
			power,
			depleted,
			minutesRemaining: prev?.minutesRemaining ?? null,
			chargePercent: prev?.chargePercent ?? null,
			extra: { ...(prev?.extra ?? {}), fromTrap: true },
		})
	}

	/**
	 * The poller's `accept`: an answer without a usable upsOutputSource is no good answer (docs/contract.md §7), so
	 * the last reading goes stale and comm-lost as if the UPS were silent, instead of standing as current. The poller
	 * makes it a `failed` poll, hence a fault. The reading is kept for #onValues, which the poller calls next for
	 * the same answer: one decode per poll.
	 */
	#accept(values: Map<string, SnmpValue>): string | null {
		this.#accepted = null
		try {
			this.#accepted = decodeUps(values)
		} catch (err) {
			if (!(err instanceof UpsDecodeError)) throw err
			if (!this.#refusing) this.#log.warn({ err }, 'not a UPS-MIB answer: no good answer until it is')
			this.#refusing = true
			return err.message
		}
		if (this.#refusing) this.#log.info('UPS-MIB answers again')
		this.#refusing = false
		return null
	}

	#onValues(values: Map<string, SnmpValue>): void {
		// decodeUps only if the poller ever handed over an answer accept() did not see (it does not)
		const reading = this.#accepted ?? decodeUps(values)
		this.#accepted = null
		const present = reading.extra['alarmsPresent']
		// the alarm names come from upsAlarmTable, read with GETBULK only when upsAlarmsPresent says there are any;
		// until that answer, the previous names stand (a power change is never held back for them)
		reading.extra['alarms'] = present === 0 ? [] : (this.#ups.reading?.extra['alarms'] ?? [])
		this.#ups.setReading(reading)
		if (typeof present === 'number' && present > 0) void this.#readAlarms(reading, present)
	}

	/** upsAlarmTable's upsAlarmDescr column (RFC 1628 upsAlarmEntry), by GETBULK. */
	async #readAlarms(reading: UpsReading, present: number): Promise<void> {
		try {
			const rows = await this.#poller.bulk([UPS_ALARM_DESCR], Math.min(present, 32))
			const alarms = [...rows.values()].map((v) => alarmName(typeof v.value === 'string' ? v.value : String(v.value)))
			if (this.#ups.reading !== reading) return // a newer reading replaced it meanwhile
			reading.extra['alarms'] = alarms
			this.emit('reading', this.status)
		} catch (err) {
			this.#log.debug({ err }, 'upsAlarmTable not read')
			this.emit('fault', err instanceof Error ? err : new Error(String(err)))
		}
	}
}
