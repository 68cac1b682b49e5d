// The Megatec/Q1 codec: a session transcript (test/fixtures/megatec) whole, byte by byte and split everywhere;
// Q1 round trips; fuzz; the power mapping of every status bit that matters.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
	bitsOf,
	megatecLines,
	formatQ1,
	MAX_LINE,
	parseF,
	parseI,
	parseQ1,
	powerOf,
	type Q1Status,
} from '../../../drivers/megatec/codec.ts'

const session = readFileSync(join(import.meta.dirname, '../../fixtures/megatec/q1-session.txt'), 'latin1')
const lines = session.split('\r').slice(0, -1)

describe('megatecLines', () => {
	it('gives the same lines whole, byte by byte, and split at every offset', () => {
		expect(megatecLines().push(session)).toEqual(lines)
		for (let i = 0; i <= session.length; i++) {
			const s = megatecLines()
			expect([...s.push(session.slice(0, i)), ...s.push(session.slice(i))]).toEqual(lines)
		}
		const s = megatecLines()
		const out: string[] = []
		for (const ch of session) out.push(...s.push(ch))
		expect(out).toEqual(lines)
	})

	it('fuzz: never throws, buffer bounded, parsers never throw', () => {
		fc.assert(
			fc.property(fc.array(fc.string({ unit: 'binary', maxLength: 400 }), { maxLength: 20 }), (chunks) => {
				const s = megatecLines()
				for (const c of chunks) {
					for (const l of s.push(c)) {
						parseQ1(l)
						parseF(l)
						parseI(l)
					}
					if (s.buffered > MAX_LINE) throw new Error(`buffer grew to ${s.buffered}`)
				}
			}),
			{ numRuns: 200 },
		)
	})
})

describe('Q1', () => {
	it('parses the protocol sheet example', () => {
		const r = parseQ1(lines[0]!)
		expect(r).toMatchObject({
			inputVoltage: 230.1,
			inputFaultVoltage: 140,
			outputVoltage: 229.8,
			loadPercent: 34,
			inputHz: 50,
			batteryVoltage: 13.7,
			temperatureC: 35,
			bits: '00000001',
		})
		expect(r?.status.beeperOn).toBe(true)
		expect(powerOf(r!)).toBe('online')
		expect(powerOf(parseQ1(lines[1]!)!)).toBe('on-battery')
		expect(powerOf(parseQ1(lines[2]!)!)).toBe('low-battery')
	})

	it('rejects echoes, cut lines and bad bits', () => {
		expect(parseQ1('Q1')).toBeNull()
		expect(parseQ1('(230.1 140.0 229.8 034 50.0 13.7 35.0')).toBeNull()
		expect(parseQ1('(230.1 140.0 229.8 034 50.0 13.7 35.0 0000000X')).toBeNull()
		expect(parseQ1('(--- --- --- --- --- --- --- 00000000')).toBeNull()
	})

	it('format/parse round trip', () => {
		const bits = fc.array(fc.boolean(), { minLength: 8, maxLength: 8 })
		fc.assert(
			fc.property(
				fc.integer({ min: 0, max: 2999 }),
				fc.integer({ min: 0, max: 999 }),
				fc.integer({ min: 0, max: 999 }),
				fc.integer({ min: 0, max: 999 }),
				bits,
				(v10, load, hz10, t10, b) => {
					const status: Q1Status = {
						utilityFail: b[0]!,
						batteryLow: b[1]!,
						bypassActive: b[2]!,
						upsFailed: b[3]!,
						standbyType: b[4]!,
						testInProgress: b[5]!,
						shutdownActive: b[6]!,
						beeperOn: b[7]!,
					}
					const r = {
						inputVoltage: v10 / 10,
						inputFaultVoltage: v10 / 10,
						outputVoltage: v10 / 10,
						loadPercent: load,
						inputHz: hz10 / 10,
						batteryVoltage: 13.7,
						temperatureC: t10 / 10,
						status,
						bits: bitsOf(status),
					}
					const line = formatQ1(r)
					expect(line.endsWith('\r')).toBe(true)
					expect(parseQ1(line.slice(0, -1))).toEqual(r)
				},
			),
		)
	})

	it.each([
		['10000000', 230, 'on-battery'],
		['11000000', 230, 'low-battery'],
		['00100000', 230, 'bypass'], // on-line UPS on bypass
		['00101000', 230, 'online'], // line-interactive UPS boosting/bucking (AVR)
		['00000000', 0, 'off'],
		['00010000', 230, 'online'], // UPS failed bit: an alarm in the detail, output still there
		// shutdown active (b1): the UPS is about to cut its output, as nutdrv_qx's FSD (docs/contract.md §1)
		['00000010', 230, 'low-battery'],
		['10000010', 230, 'low-battery'],
		['00100010', 230, 'low-battery'],
		['00000010', 0, 'low-battery'],
	] as const)('bits %s, output %i V -> %s', (bits, out, power) => {
		const r = parseQ1(`(230.0 140.0 ${out.toFixed(1).padStart(5, '0')} 020 50.0 13.5 30.0 ${bits}`)
		expect(r).not.toBeNull()
		expect(powerOf(r!)).toBe(power)
	})
})

describe('F and I', () => {
	it('parses ratings and identity', () => {
		expect(parseF(lines[3]!)).toEqual({ voltage: 230, current: 4, batteryVoltage: 12, hz: 50 })
		expect(parseI(lines[4]!)).toEqual({ company: 'SIGPATH', model: 'SIM-Q1', version: '1.0' })
		expect(parseF('F')).toBeNull()
	})
})
