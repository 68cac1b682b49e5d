// UPS-MIB mapping of docs/contract.md §1 and the UPS trap classification (RFC 1628).
import { describe, expect, it } from 'vitest'
import type { SnmpValue } from '../../../drivers/snmp/codec.ts'
import {
	classifyUpsTrap,
	decodeUps,
	UPS_ALARM,
	UPS_ALARM_DESCR,
	UPS_OID,
	UPS_TRAP,
	UpsDecodeError,
} from '../../../drivers/ups/codec.ts'
import { upsHealth, upsProbeResult } from '../../../drivers/ups/types.ts'

function values(o: Partial<Record<keyof typeof UPS_OID, number | string>>): Map<string, SnmpValue> {
	const m = new Map<string, SnmpValue>()
	for (const [k, v] of Object.entries(o)) {
		const oid = UPS_OID[k as keyof typeof UPS_OID]
		m.set(oid, { oid, type: typeof v === 'number' ? 'integer' : 'string', value: v })
	}
	return m
}

describe('UPS-MIB to power state', () => {
	it.each([
		[3, 2, 'online', false],
		[3, 3, 'online', false], // low battery while on line power: charging, still online
		[4, 2, 'bypass', false],
		[5, 2, 'on-battery', false],
		[5, 1, 'on-battery', false],
		[5, 3, 'low-battery', false],
		[5, 4, 'low-battery', true],
		[1, 2, 'off', false],
		[2, 2, 'off', false],
		[6, 2, 'online', false], // booster: AVR on utility
		[7, 2, 'online', false], // reducer
		[5, 0, 'on-battery', false], // an upsBatteryStatus outside 1-4 is unknown, never low
		[5, 5, 'on-battery', false],
		[5, 255, 'on-battery', false],
	] as const)('upsOutputSource %i, upsBatteryStatus %i -> %s', (source, battery, power, depleted) => {
		const r = decodeUps(
			values({
				upsOutputSource: source,
				upsBatteryStatus: battery,
				upsEstimatedMinutesRemaining: 17,
				upsEstimatedChargeRemaining: 64,
			}),
		)
		expect(r).toMatchObject({ power, depleted, minutesRemaining: 17, chargePercent: 64 })
	})

	it('refuses an agent without upsOutputSource', () => {
		expect(() => decodeUps(values({ upsBatteryStatus: 2 }))).toThrow(/upsOutputSource/)
	})

	it.each([0, 8, 255, -1, 3.5])('refuses upsOutputSource %s: not one of RFC 1628 other(1) ... reducer(7)', (source) => {
		// read as off, any of these made a UPS that said nothing meaningful look like a lost source
		expect(() => decodeUps(values({ upsOutputSource: source, upsBatteryStatus: 2 }))).toThrow(UpsDecodeError)
	})

	it.each([
		['NULL', { oid: UPS_OID.upsOutputSource, type: 'null', value: null }],
		['noSuchInstance', { oid: UPS_OID.upsOutputSource, type: 'missing', value: null }],
		['a non-numeric string', { oid: UPS_OID.upsOutputSource, type: 'string', value: 'no link' }],
	] as const)('refuses upsOutputSource as %s', (_, v) => {
		const m = values({ upsBatteryStatus: 2 })
		m.set(UPS_OID.upsOutputSource, { ...v })
		expect(() => decodeUps(m)).toThrow(UpsDecodeError)
	})

	it('reads other(1) and none(2) as off, and an unknown upsBatteryStatus as unknown(n) in extra', () => {
		expect(decodeUps(values({ upsOutputSource: 1 })).extra['outputSource']).toBe('other')
		const r = decodeUps(values({ upsOutputSource: 2, upsBatteryStatus: 7 }))
		expect(r).toMatchObject({ power: 'off', depleted: false })
		expect(r.extra).toMatchObject({ outputSource: 'none', batteryStatus: 'unknown(7)' })
	})

	it('reports missing minutes and charge as null, never 0', () => {
		const r = decodeUps(values({ upsOutputSource: 3 }))
		expect(r.minutesRemaining).toBeNull()
		expect(r.chargePercent).toBeNull()
	})

	it('health and the probe detail of docs/contract.md §1', () => {
		const reading = decodeUps(
			values({
				upsOutputSource: 5,
				upsBatteryStatus: 2,
				upsEstimatedMinutesRemaining: 9,
				upsEstimatedChargeRemaining: 50,
			}),
		)
		const status = { reading, commLost: false, freshness: { connected: true, stale: false, lastOkAt: 1 } }
		expect(upsHealth(status)).toBe('degraded')
		expect(upsProbeResult('u', status)).toMatchObject({
			device: 'u',
			connected: true,
			health: 'degraded',
			detail: { power: 'on-battery', minutesRemaining: 9, chargePercent: 50 },
		})
		expect(upsHealth({ ...status, commLost: true })).toBe('unknown')
		expect(
			upsProbeResult('u', {
				reading: null,
				commLost: false,
				freshness: { connected: false, stale: false, lastOkAt: null },
			}),
		).toMatchObject({
			connected: false,
			health: 'unknown',
			detail: { power: null },
		})
	})
})

describe('UPS traps', () => {
	it('classifies RFC 1628 upsTraps and reads the alarm of an alarm entry trap', () => {
		expect(classifyUpsTrap(UPS_TRAP.onBattery, [])).toEqual({ kind: 'on-battery' })
		const descr: SnmpValue = { oid: `${UPS_ALARM_DESCR}.3`, type: 'oid', value: UPS_ALARM.lowBattery }
		expect(classifyUpsTrap(UPS_TRAP.alarmEntryAdded, [descr])).toEqual({
			kind: 'alarm-added',
			alarm: UPS_ALARM.lowBattery,
		})
		expect(classifyUpsTrap(UPS_TRAP.alarmEntryRemoved, [])).toEqual({ kind: 'alarm-removed', alarm: null })
		expect(classifyUpsTrap('1.3.6.1.6.3.1.1.5.1', [])).toEqual({ kind: 'other' })
	})
})
