// fast-check properties and fuzz of the UPS-MIB codec (drivers/ups/codec.ts): any set of values an agent answers
// with gives a reading in the mapping of docs/contract.md §1, or the one UpsDecodeError for a non-UPS agent; trap
// classification and alarm names never throw and read a well-known alarm only from its exact OID (RFC 1628 §5).
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { SnmpValue } from '../../../drivers/snmp/codec.ts'
import {
	alarmName,
	classifyUpsTrap,
	decodeUps,
	UPS_ALARM_DESCR,
	UPS_ALARM_NAMES,
	UPS_OID,
	UPS_TRAP,
	UpsDecodeError,
} from '../../../drivers/ups/codec.ts'

const WELL_KNOWN = '1.3.6.1.2.1.33.1.6.3'

/** any value an agent may answer at one OID: the right type, the wrong one, a number in a string, nothing */
const agentValue = (oid: string): fc.Arbitrary<SnmpValue | undefined> =>
	fc.oneof(
		fc.integer({ min: -3, max: 10 }).map((n): SnmpValue => ({ oid, type: 'integer', value: n })),
		fc.integer().map((n): SnmpValue => ({ oid, type: 'gauge', value: n })),
		fc
			.oneof(fc.string({ maxLength: 30 }), fc.integer({ min: -3, max: 10 }).map(String), fc.constant('9'.repeat(400)))
			.map((s): SnmpValue => ({ oid, type: 'string', value: s })),
		fc
			.constantFrom<SnmpValue['type']>('missing', 'null', 'opaque')
			.map((type): SnmpValue => ({ oid, type, value: null })),
		fc.constant(undefined),
	)

const agent = fc
	.tuple(...Object.values(UPS_OID).map((oid) => agentValue(oid)))
	.map((vs) => new Map(vs.filter((v): v is SnmpValue => v !== undefined).map((v) => [v.oid, v])))

/** upsOutputSource and upsBatteryStatus as integers, the rest as above */
const integerOf = (v: SnmpValue | undefined): number | null => {
	if (!v || v.value === null) return null
	const n = typeof v.value === 'number' ? v.value : /^\s*-?\d+(\.\d+)?\s*$/.test(v.value) ? Number(v.value) : NaN
	return Number.isFinite(n) ? n : null
}

describe('UPS-MIB codec: fuzz', () => {
	it('any agent answer is a reading in the §1 mapping, or UpsDecodeError when upsOutputSource is no RFC 1628 value', () => {
		fc.assert(
			fc.property(agent, (values) => {
				const source = integerOf(values.get(UPS_OID.upsOutputSource))
				// RFC 1628 upsOutputSource is other(1) ... reducer(7): anything else is no UPS-MIB answer
				if (source === null || !Number.isInteger(source) || source < 1 || source > 7) {
					expect(() => decodeUps(values)).toThrow(UpsDecodeError)
					return
				}
				const r = decodeUps(values)
				const battery = integerOf(values.get(UPS_OID.upsBatteryStatus))
				const low = battery === 3 || battery === 4
				const want =
					source === 3 || source === 6 || source === 7
						? 'online'
						: source === 4
							? 'bypass'
							: source === 5
								? low
									? 'low-battery'
									: 'on-battery'
								: 'off' // other(1), none(2)
				expect(r.power).toBe(want)
				expect(r.depleted).toBe(battery === 4)
				// an upsBatteryStatus outside unknown(1) ... batteryDepleted(4) is shown as such, and read as nothing
				if (battery !== null && ![1, 2, 3, 4].includes(battery))
					expect(r.extra['batteryStatus']).toBe(`unknown(${battery})`)
				for (const n of [r.minutesRemaining, r.chargePercent]) if (n !== null) expect(Number.isFinite(n)).toBe(true)
				// what the probe prints is JSON: every number in it survives JSON
				expect(JSON.parse(JSON.stringify(r))).toEqual(r)
			}),
			{ numRuns: 3000 },
		)
	})

	it('classifies any trap OID and varbinds without throwing', () => {
		const kinds = ['on-battery', 'alarm-added', 'alarm-removed', 'test-completed', 'other']
		fc.assert(
			fc.property(
				fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom(...Object.values(UPS_TRAP))),
				fc.array(
					fc.record({
						oid: fc.oneof(
							fc.string({ maxLength: 30 }),
							fc.nat({ max: 9 }).map((n) => `${UPS_ALARM_DESCR}.${n}`),
						),
						type: fc.constantFrom<SnmpValue['type']>('oid', 'string', 'integer', 'missing'),
						value: fc.oneof(fc.string({ maxLength: 30 }), fc.integer(), fc.constant(null)),
					}),
					{ maxLength: 5 },
				),
				(trap, vbs) => {
					const m = classifyUpsTrap(trap, vbs)
					expect(kinds).toContain(m.kind)
					if (m.kind === 'alarm-added' || m.kind === 'alarm-removed')
						expect(m.alarm === null || typeof m.alarm === 'string').toBe(true)
				},
			),
			{ numRuns: 2000 },
		)
	})
})

describe('UPS-MIB codec: properties', () => {
	it('an SNMPv1 trap (upsTraps.0.N) means what its SNMPv2 form (upsTraps.N) means (RFC 3584 §3.1)', () => {
		fc.assert(
			fc.property(fc.nat({ max: 12 }), (n) => {
				const descr: SnmpValue = { oid: `${UPS_ALARM_DESCR}.1`, type: 'oid', value: `${WELL_KNOWN}.3` }
				expect(classifyUpsTrap(`1.3.6.1.2.1.33.2.0.${n}`, [descr])).toEqual(
					classifyUpsTrap(`1.3.6.1.2.1.33.2.${n}`, [descr]),
				)
			}),
		)
	})

	it('names a well-known alarm only from its exact OID; any other OID is its own name', () => {
		for (let n = 1; n <= UPS_ALARM_NAMES.length; n++)
			expect(alarmName(`${WELL_KNOWN}.${n}`)).toBe(UPS_ALARM_NAMES[n - 1])
		fc.assert(
			fc.property(
				fc.oneof(
					fc.string({ maxLength: 12 }),
					fc.constantFrom('0x2', '2.0', ' 2', '1e1', '02', '+3', '2 ', '0', '25', ''),
				),
				(tail) => {
					const oid = `${WELL_KNOWN}.${tail}`
					const exact = /^[1-9]\d*$/.test(tail) && Number(tail) <= UPS_ALARM_NAMES.length
					expect(alarmName(oid)).toBe(exact ? UPS_ALARM_NAMES[Number(tail) - 1] : oid)
				},
			),
			{ numRuns: 2000 },
		)
	})
})
