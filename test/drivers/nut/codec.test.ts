// The upsd protocol codec: a transcript recorded from upsd 2.8.0 (test/fixtures/nut) fed whole, byte by byte and
// split at every offset; quoting round trips; random-input fuzz (never throws, never grows).
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
	formatRequest,
	nutLines,
	MAX_LINE,
	parseReply,
	powerFromStatus,
	quote,
	tokenize,
} from '../../../drivers/nut/codec.ts'
import { readingFromVars, varsFromReplies } from '../../../drivers/nut/device.ts'

const transcript = readFileSync(join(import.meta.dirname, '../../fixtures/nut/upsd-2.8.0.txt'), 'latin1')
const expectedLines = transcript.split('\n').slice(0, -1)

describe('nutLines', () => {
	it('gives the same lines whole, byte by byte, and split at every offset', () => {
		expect(nutLines().push(transcript)).toEqual(expectedLines)
		const s = nutLines()
		const bytes: string[] = []
		for (const ch of transcript) bytes.push(...s.push(ch))
		expect(bytes).toEqual(expectedLines)
		for (let i = 0; i <= transcript.length; i++) {
			const sp = nutLines()
			expect([...sp.push(transcript.slice(0, i)), ...sp.push(transcript.slice(i))]).toEqual(expectedLines)
		}
	})

	it('drops CR before LF, and resyncs after an over-long line without growing', () => {
		const s = nutLines()
		expect(s.push('OK\r\n')).toEqual(['OK'])
		expect(s.push('x'.repeat(MAX_LINE + 10))).toEqual([])
		expect(s.buffered).toBe(0)
		expect(s.push('yyy\nOK Goodbye\n')).toEqual(['OK Goodbye'])
		expect(s.overflows).toBe(1)
	})

	it('fuzz: random chunks never throw and the buffer stays bounded', () => {
		fc.assert(
			fc.property(fc.array(fc.string({ unit: 'binary', maxLength: 600 }), { maxLength: 30 }), (chunks) => {
				const s = nutLines()
				for (const c of chunks) {
					for (const line of s.push(c)) {
						if (line.includes('\n')) throw new Error('a line holds LF')
						parseReply(line) // never throws
					}
					if (s.buffered > MAX_LINE) throw new Error(`buffer grew to ${s.buffered}`)
				}
			}),
			{ numRuns: 200 },
		)
	})
})

describe('replies', () => {
	it('parses the recorded transcript', () => {
		const replies = expectedLines.map(parseReply)
		expect(replies[0]).toEqual({ kind: 'begin', list: ['UPS'] })
		expect(replies[1]).toEqual({ kind: 'ups', name: 'sim', description: 'test' })
		expect(replies[4]).toEqual({ kind: 'err', code: 'UNKNOWN-UPS', extra: '' })
		expect(replies[8]).toEqual({ kind: 'var', ups: 'sim', name: 'battery.runtime', value: '1800' })
		const list = replies.slice(6)
		const vars = varsFromReplies('sim', list)
		expect(vars).toBeInstanceOf(Map)
		const r = readingFromVars(vars as Map<string, string>)
		expect(r).toMatchObject({ power: 'low-battery', chargePercent: 80, minutesRemaining: 30 })
		expect(varsFromReplies('sim', [replies[4]!])).toMatchObject({ code: 'UNKNOWN-UPS' })
		expect(varsFromReplies('sim', list.slice(0, -1))).toMatchObject({ code: 'PROTOCOL' })
	})

	it('unquotes escapes and never throws on malformed lines', () => {
		expect(tokenize('VAR ups ups.mfr "A \\"quoted\\" \\\\ name"')).toEqual([
			'VAR',
			'ups',
			'ups.mfr',
			'A "quoted" \\ name',
		])
		expect(parseReply('VAR ups x "open')).toEqual({ kind: 'other', words: ['VAR ups x "open'] })
		expect(parseReply('')).toEqual({ kind: 'other', words: [] })
		expect(parseReply('ERR DATA-STALE')).toEqual({ kind: 'err', code: 'DATA-STALE', extra: '' })
	})

	it('quote/tokenize round trip for any word', () => {
		fc.assert(
			fc.property(
				fc.array(
					fc.string({ maxLength: 20 }).filter((w) => !/[\r\n]/.test(w)),
					{ minLength: 1, maxLength: 5 },
				),
				(words) => {
					const line = formatRequest(words)
					expect(line.endsWith('\n')).toBe(true)
					expect(tokenize(line.slice(0, -1))).toEqual(words)
				},
			),
		)
		expect(quote('ups.status')).toBe('ups.status')
		expect(quote('OB LB')).toBe('"OB LB"')
		expect(() => formatRequest(['GET', 'VAR\nLOGOUT'])).toThrow()
	})
})

describe('ups.status flags (docs/contract.md §1)', () => {
	it.each([
		['OL', 'online'],
		['OL CHRG', 'online'],
		['OL LB', 'online'],
		['OB', 'on-battery'],
		['OB DISCHRG', 'on-battery'],
		['OB LB', 'low-battery'],
		['LB OB', 'low-battery'],
		['FSD OB LB', 'low-battery'],
		['OL BYPASS', 'bypass'],
		['BYPASS', 'bypass'],
		['OFF', 'off'],
		['OL OFF', 'off'],
		['WAIT', null],
		['', null],
	] as const)('%j -> %s', (status, power) => {
		expect(powerFromStatus(status).power).toBe(power)
	})
})

describe('replies: fuzz', () => {
	const POWERS = ['online', 'on-battery', 'low-battery', 'bypass', 'off']
	/** lines as upsd writes them, with random words and values, and raw noise */
	const line = fc.oneof(
		fc.string({ unit: 'binary', maxLength: 120 }),
		fc
			.tuple(
				fc.constantFrom('VAR', 'BEGIN', 'END', 'ERR', 'UPS', 'OK', 'LIST', 'X'),
				fc.array(fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('sim', 'LIST', 'VAR', 'ups.status')), {
					maxLength: 4,
				}),
			)
			.map(([head, words]) => formatRequest([head, ...words]).slice(0, -1)),
	)

	it('parses any line without throwing, and any list of replies to variables or one error', () => {
		fc.assert(
			fc.property(fc.array(line, { maxLength: 12 }), (lines) => {
				const replies = lines.map(parseReply)
				for (const r of replies) expect(['begin', 'end', 'ups', 'var', 'err', 'ok', 'other']).toContain(r.kind)
				const vars = varsFromReplies('sim', replies)
				if (!(vars instanceof Map)) expect(vars).toBeInstanceOf(Error)
			}),
			{ numRuns: 1000 },
		)
	})

	it('reads any set of upsd variables to a reading in the §1 mapping or null, numbers finite', () => {
		const value = fc.oneof(
			fc.string({ unit: 'binary', maxLength: 20 }),
			fc.constantFrom(
				'OL',
				'OB',
				'OB LB',
				'OL BYPASS',
				'OFF',
				'WAIT',
				'',
				' ',
				'NaN',
				'Infinity',
				'-1e400',
				'1e400',
				'80',
			),
			fc.double().map(String),
		)
		fc.assert(
			fc.property(
				fc.dictionary(fc.constantFrom('ups.status', 'battery.runtime', 'battery.charge', 'ups.model'), value),
				(o) => {
					const r = readingFromVars(new Map(Object.entries(o)))
					if (r === null) return
					expect(POWERS).toContain(r.power)
					for (const n of [r.minutesRemaining, r.chargePercent]) if (n !== null) expect(Number.isFinite(n)).toBe(true)
					expect(r.power).toBe(powerFromStatus(o['ups.status']!).power)
				},
			),
			{ numRuns: 2000 },
		)
	})
})
