// UPS-MIB (RFC 1628) objects and their meaning: varbinds in, a UpsReading out. Pure.
// Debian ships no UPS-MIB file, so the OIDs are numeric (docs/operations.md). Base: upsMIB 1.3.6.1.2.1.33.
import { numeric, type SnmpValue } from '../snmp/codec.ts'
import type { UpsReading } from './types.ts'

const OBJ = '1.3.6.1.2.1.33.1'

/** RFC 1628 §5 upsObjects scalars (instance .0). */
export const UPS_OID = {
	upsIdentModel: `${OBJ}.1.2.0`,
	upsBatteryStatus: `${OBJ}.2.1.0`,
	upsSecondsOnBattery: `${OBJ}.2.2.0`,
	upsEstimatedMinutesRemaining: `${OBJ}.2.3.0`,
	upsEstimatedChargeRemaining: `${OBJ}.2.4.0`,
	upsOutputSource: `${OBJ}.4.1.0`,
	upsAlarmsPresent: `${OBJ}.6.1.0`,
} as const

export const UPS_POLL_OIDS: readonly string[] = Object.values(UPS_OID)

/** upsAlarmTable's upsAlarmDescr column (RFC 1628 upsAlarmEntry .2): a well-known alarm OID per row. */
export const UPS_ALARM_DESCR = `${OBJ}.6.2.1.2`

/** RFC 1628 §5 upsTraps 1.3.6.1.2.1.33.2. */
export const UPS_TRAP = {
	onBattery: '1.3.6.1.2.1.33.2.1',
	testCompleted: '1.3.6.1.2.1.33.2.2',
	alarmEntryAdded: '1.3.6.1.2.1.33.2.3',
	alarmEntryRemoved: '1.3.6.1.2.1.33.2.4',
} as const

/** upsWellKnownAlarms 1.3.6.1.2.1.33.1.6.3 (RFC 1628 §5), in the RFC's order: .1 is batteryBad ... .24 testInProgress. */
export const UPS_ALARM_NAMES = [
	'batteryBad',
	'onBattery',
	'lowBattery',
	'depletedBattery',
	'tempBad',
	'inputBad',
	'outputBad',
	'outputOverload',
	'onBypass',
	'bypassBad',
	'outputOffAsRequested',
	'upsOffAsRequested',
	'chargerFailed',
	'upsOutputOff',
	'upsSystemOff',
	'fanFailure',
	'fuseFailure',
	'generalFault',
	'diagnosticTestFailed',
	'communicationsLost',
	'awaitingPower',
	'shutdownPending',
	'shutdownImminent',
	'testInProgress',
] as const

const WELL_KNOWN = `${OBJ}.6.3`

/** The well-known alarms that change the power state. */
export const UPS_ALARM = {
	onBattery: `${WELL_KNOWN}.2`,
	lowBattery: `${WELL_KNOWN}.3`,
	depletedBattery: `${WELL_KNOWN}.4`,
	onBypass: `${WELL_KNOWN}.9`,
	outputOffAsRequested: `${WELL_KNOWN}.11`,
	upsOffAsRequested: `${WELL_KNOWN}.12`,
	upsOutputOff: `${WELL_KNOWN}.14`,
	upsSystemOff: `${WELL_KNOWN}.15`,
} as const

/** An alarm OID (a upsAlarmDescr value) to its RFC 1628 name, or the OID itself for a vendor's alarm. */
export function alarmName(oid: string): string {
	// the exact OID only: Number() would also read "0x2", "2.0" or " 2" (other OIDs, or none) as alarm 2 (found by
	// the codec fuzz test)
	const tail = oid.startsWith(`${WELL_KNOWN}.`) ? oid.slice(WELL_KNOWN.length + 1) : ''
	if (/^[1-9]\d{0,2}$/.test(tail)) {
		const n = Number(tail)
		const name = UPS_ALARM_NAMES[n - 1]
		if (name !== undefined) return name
	}
	return oid
}

/** upsOutputSource (RFC 1628 upsOutputGroup): other(1) none(2) normal(3) bypass(4) battery(5) booster(6) reducer(7) */
const OUTPUT_SOURCE: Record<number, string> = {
	1: 'other',
	2: 'none',
	3: 'normal',
	4: 'bypass',
	5: 'battery',
	6: 'booster',
	7: 'reducer',
}
/** upsBatteryStatus: unknown(1) batteryNormal(2) batteryLow(3) batteryDepleted(4) */
const BATTERY_STATUS: Record<number, string> = { 1: 'unknown', 2: 'normal', 3: 'low', 4: 'depleted' }

export class UpsDecodeError extends Error {
	override name = 'UpsDecodeError'
}

/**
 * docs/contract.md §1 mapping: upsOutputSource 3 online, 4 bypass, 5 on-battery (low-battery when upsBatteryStatus is
 * 3 or 4), other off. Booster (6) and reducer (7) are the inverter correcting the utility voltage (AVR): the
 * load is on utility through the UPS, protected, so they read as online, not off. That is our one extension of
 * the mapping: "other" in the contract means none (2) and other (1).
 * Throws UpsDecodeError when upsOutputSource cannot be read (missing, NULL, not a number) or is not one of RFC 1628's
 * seven values: that is no UPS-MIB answer (a card that lost its UPS), and the poller then counts it as no good
 * answer (stale, comm-lost: docs/contract.md §7). Reading 0, 8 or 255 as off once made a UPS that said nothing
 * meaningful look like a lost source. An upsBatteryStatus outside RFC 1628's four values is shown as unknown(n) and
 * never read as low: the output source alone says whether the load is on battery.
 */
export function decodeUps(values: ReadonlyMap<string, SnmpValue>): UpsReading {
	const source = numeric(values.get(UPS_OID.upsOutputSource))
	if (source === null) throw new UpsDecodeError('upsOutputSource (1.3.6.1.2.1.33.1.4.1.0) not readable')
	const outputSource = OUTPUT_SOURCE[source]
	if (outputSource === undefined)
		throw new UpsDecodeError(`upsOutputSource (1.3.6.1.2.1.33.1.4.1.0) is ${source}, not a UPS-MIB value (1-7)`)
	const battery = numeric(values.get(UPS_OID.upsBatteryStatus))
	const minutes = numeric(values.get(UPS_OID.upsEstimatedMinutesRemaining))
	const charge = numeric(values.get(UPS_OID.upsEstimatedChargeRemaining))
	const low = battery === 3 || battery === 4
	let power: UpsReading['power']
	if (source === 3 || source === 6 || source === 7) power = 'online'
	else if (source === 4) power = 'bypass'
	else if (source === 5) power = low ? 'low-battery' : 'on-battery'
	else power = 'off' // other(1), none(2)
	const model = values.get(UPS_OID.upsIdentModel)
	return {
		power,
		depleted: battery === 4,
		minutesRemaining: minutes,
		chargePercent: charge,
		extra: {
			outputSource,
			batteryStatus: battery === null ? null : (BATTERY_STATUS[battery] ?? `unknown(${battery})`),
			secondsOnBattery: numeric(values.get(UPS_OID.upsSecondsOnBattery)),
			alarmsPresent: numeric(values.get(UPS_OID.upsAlarmsPresent)),
			...(model?.type === 'string' ? { model: model.value } : {}),
		},
	}
}

export type UpsTrapMeaning =
	| { kind: 'on-battery' }
	| { kind: 'alarm-added'; alarm: string | null }
	| { kind: 'alarm-removed'; alarm: string | null }
	| { kind: 'test-completed' }
	| { kind: 'other' }

/** What a notification's snmpTrapOID means for a UPS (RFC 1628 §5 upsTraps). */
export function classifyUpsTrap(trapOid: string, varbinds: readonly SnmpValue[]): UpsTrapMeaning {
	// upsTrapAlarmEntryAdded/Removed carry upsAlarmId and upsAlarmDescr: the descr value names the alarm
	const alarm = varbinds.find((v) => v.oid.startsWith(`${UPS_ALARM_DESCR}.`))
	const descr = alarm && typeof alarm.value === 'string' ? alarm.value : null
	// an SNMPv1 trap of the same notification arrives as upsTraps.0.N (RFC 3584 §3.1): the same meaning
	const v1 = /^1\.3\.6\.1\.2\.1\.33\.2\.0\.(\d+)$/.exec(trapOid)
	switch (v1 ? `1.3.6.1.2.1.33.2.${v1[1]}` : trapOid) {
		case UPS_TRAP.onBattery:
			return { kind: 'on-battery' }
		case UPS_TRAP.alarmEntryAdded:
			return { kind: 'alarm-added', alarm: descr }
		case UPS_TRAP.alarmEntryRemoved:
			return { kind: 'alarm-removed', alarm: descr }
		case UPS_TRAP.testCompleted:
			return { kind: 'test-completed' }
		default:
			return { kind: 'other' }
	}
}
