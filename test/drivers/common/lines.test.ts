// The shared bounded line splitter: a transcript fed whole, byte by byte and split at every offset gives the same
// lines; an over-long line is dropped with a resync and reported; random bytes never throw nor grow the buffer.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { LineSplitter } from '../../../drivers/common/lines.ts'

const MAX = 32

function splitter(terminator: 'cr' | 'lf', onOverflow?: () => void): LineSplitter {
	return new LineSplitter({ terminator, maxLine: MAX, ...(onOverflow ? { onOverflow } : {}) })
}

/** the lines of `text` fed in the given pieces */
function feed(s: LineSplitter, pieces: string[]): string[] {
	return pieces.flatMap((p) => s.push(p))
}

const cases: { terminator: 'cr' | 'lf'; text: string; lines: string[] }[] = [
	{
		terminator: 'cr',
		text: '(230.1 140.0 229.8 034\r#230.0 004\r\r',
		lines: ['(230.1 140.0 229.8 034', '#230.0 004', ''],
	},
	{ terminator: 'cr', text: 'Q1\r\nF\r\n\nI\r', lines: ['Q1', 'F', 'I'] },
	{
		terminator: 'lf',
		text: 'BEGIN LIST VAR u\nVAR u ups.status "OL"\r\nEND LIST VAR u\n',
		lines: ['BEGIN LIST VAR u', 'VAR u ups.status "OL"', 'END LIST VAR u'],
	},
	{ terminator: 'lf', text: 'a\rb\n\n', lines: ['a\rb', ''] },
]

describe('LineSplitter', () => {
	it.each(cases)('gives the same lines whole, byte by byte and split at every offset ($terminator)', (c) => {
		expect(splitter(c.terminator).push(c.text)).toEqual(c.lines)
		expect(feed(splitter(c.terminator), [...c.text])).toEqual(c.lines)
		for (let i = 0; i <= c.text.length; i++)
			for (let j = i; j <= c.text.length; j++)
				expect(feed(splitter(c.terminator), [c.text.slice(0, i), c.text.slice(i, j), c.text.slice(j)])).toEqual(c.lines)
	})

	it.each(['cr', 'lf'] as const)('drops an over-long line, reports it and resyncs at the next terminator (%s)', (t) => {
		const end = t === 'cr' ? '\r' : '\n'
		let reported = 0
		const s = splitter(t, () => reported++)
		expect(s.push('x'.repeat(MAX + 5))).toEqual([])
		expect(s.buffered).toBe(0)
		expect(s.push(`yyy${end}ok${end}`)).toEqual(['ok'])
		// over-long within one chunk, terminator included
		expect(s.push(`${'z'.repeat(MAX + 1)}${end}fine${end}`)).toEqual(['fine'])
		// exactly the bound is kept
		expect(s.push(`${'w'.repeat(MAX)}${end}`)).toEqual(['w'.repeat(MAX)])
		expect(s.overflows).toBe(2)
		expect(reported).toBe(2)
	})

	it.each(['cr', 'lf'] as const)(
		'fuzz: random bytes never throw, lines hold no terminator, the buffer stays bounded (%s)',
		(t) => {
			fc.assert(
				fc.property(fc.array(fc.string({ unit: 'binary', maxLength: 200 }), { maxLength: 30 }), (chunks) => {
					const s = splitter(t)
					for (const c of chunks) {
						for (const line of s.push(c)) {
							expect(line.length).toBeLessThanOrEqual(MAX)
							expect(line.includes(t === 'cr' ? '\r' : '\n')).toBe(false)
						}
						expect(s.buffered).toBeLessThanOrEqual(MAX)
					}
				}),
				{ numRuns: 300 },
			)
		},
	)

	it.each(['cr', 'lf'] as const)('fuzz: any split of a stream gives the lines of the whole (%s)', (t) => {
		fc.assert(
			fc.property(
				fc.string({ unit: fc.constantFrom('a', 'b', '\r', '\n', ' '), maxLength: 120 }),
				fc.array(fc.nat(), { maxLength: 8 }),
				(text, cuts) => {
					const at = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b)
					const pieces = [0, ...at].map((from, i) => text.slice(from, [...at, text.length][i]))
					expect(feed(splitter(t), pieces)).toEqual(splitter(t).push(text))
				},
			),
			{ numRuns: 300 },
		)
	})
})
