// The MIDI mapping, tested with byte sequences as a surface sends and receives them.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MidiMapper, openMidiPort } from '../../src/control/midi.ts'
import type { FeedState } from '../../src/control/payloads.ts'
import { parseConfigText } from '../../src/domain/load.ts'
import { createLogger } from '../../src/log.ts'

const config = parseConfigText(`
site: { id: s }
devices: [ { id: r, role: router, lineCards: [ { id: c, inputs: [1, 8] } ] } ]
events:
  - id: ev
    tier: red
    feeds:
      - id: pgm
        output: { router: r, output: 1 }
        paths:
          - { id: fiber, method: fiber, input: { router: r, input: 1 } }
          - { id: sat, method: satellite, input: { router: r, input: 2 } }
midi:
  controls:
    - { note: 36, feed: ev/pgm, action: take, path: fiber }
    - { note: 37, feed: ev/pgm, action: take, path: sat, force: true }
    - { note: 38, channel: 2, feed: ev/pgm, action: lock }
    - { cc: 20, feed: ev/pgm, action: auto }
  tally:
    - { note: 50, feed: ev/pgm, path: sat, when: failed }
`)
const midi = config.midi!

const state = (over: Partial<FeedState> = {}): FeedState => ({
	active: 'fiber',
	mode: 'auto',
	locked: false,
	paths: { fiber: { signal: 'up', state: 'healthy' }, sat: { signal: 'up', state: 'healthy' } },
	compliance: { compliant: true, healthyDiscretePaths: 2, required: 2 },
	...over,
})

describe('MIDI mapping', () => {
	it('turns a note on into a take, and ignores the release and unmapped notes', () => {
		const m = new MidiMapper(midi)
		expect(m.decode([0x90, 36, 100])).toEqual([{ feed: 'ev/pgm', command: { action: 'take', path: 'fiber' } }])
		expect(m.decode([0x90, 36, 0, 0x80, 36, 64, 0x90, 60, 127])).toEqual([])
		expect(m.decode([0x90, 37, 1])).toEqual([{ feed: 'ev/pgm', command: { action: 'take', path: 'sat', force: true } }])
	})

	it('matches the channel, reads control changes >= 64 as presses, and follows running status', () => {
		const m = new MidiMapper(midi)
		expect(m.decode([0x90, 38, 127])).toEqual([]) // channel 1: not the lock button
		expect(m.decode([0x91, 38, 127])).toEqual([{ feed: 'ev/pgm', command: { action: 'lock' } }])
		expect(m.decode([0xb0, 20, 63])).toEqual([])
		// running status: a second CC without its status byte, a clock byte in the middle
		expect(m.decode([0xb0, 20, 0, 20, 0xf8, 127])).toEqual([{ feed: 'ev/pgm', command: { action: 'auto' } }])
	})

	it('decodes the same commands however the bytes are split', () => {
		const bytes = [0x90, 36, 100, 0x80, 36, 0, 0xb0, 20, 127, 0xf0, 1, 2, 0xf7, 0x91, 38, 90]
		const whole = new MidiMapper(midi).decode(bytes)
		expect(whole).toHaveLength(3)
		for (let cut = 0; cut <= bytes.length; cut++) {
			const m = new MidiMapper(midi)
			expect([...m.decode(bytes.slice(0, cut)), ...m.decode(bytes.slice(cut))]).toEqual(whole)
		}
	})

	it('never throws on random bytes, and only mapped buttons produce commands', () => {
		fc.assert(
			fc.property(fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 200 }), (bytes) => {
				const cmds = new MidiMapper(midi).decode(bytes)
				for (const c of cmds) expect(c.feed).toBe('ev/pgm')
			}),
		)
	})

	it('lights the LEDs of the state, sending only what changes', () => {
		const m = new MidiMapper(midi)
		expect(m.leds(new Map([['ev/pgm', state()]]))).toEqual([
			[0x90, 36, 127], // fiber active
			[0x80, 37, 0],
			[0x81, 38, 0], // unlocked
			[0xb0, 20, 127], // auto
			[0x80, 50, 0], // sat not failed
		])
		expect(m.leds(new Map([['ev/pgm', state()]]))).toEqual([])
		const failedOver = state({
			active: 'sat',
			mode: 'manual',
			locked: true,
			paths: { fiber: { signal: 'down', state: 'failed' }, sat: { signal: 'up', state: 'healthy' } },
		})
		expect(m.leds(new Map([['ev/pgm', failedOver]]))).toEqual([
			[0x80, 36, 0],
			[0x90, 37, 127],
			[0x91, 38, 127],
			[0xb0, 20, 0],
		])
	})

	it('config: refuses a button for an unknown feed or path, and the same button twice', () => {
		const base = `site: { id: s }\ndevices: [ { id: r, role: router } ]\nevents: [ { id: ev, tier: red, feeds: [ { id: pgm, output: { router: r, output: 1 }, paths: [ { id: fiber, method: fiber, input: { router: r, input: 1 } } ] } ] } ]\n`
		expect(() => parseConfigText(`${base}midi: { controls: [ { note: 1, feed: ev/nope, action: auto } ] }\n`)).toThrow(
			/midi\.controls\[0\]\.feed: unknown feed "ev\/nope"/,
		)
		expect(() =>
			parseConfigText(`${base}midi: { controls: [ { note: 1, feed: ev/pgm, action: take, path: sat } ] }\n`),
		).toThrow(/feed ev\/pgm has no path "sat"/)
		expect(() =>
			parseConfigText(
				`${base}midi: { controls: [ { note: 1, feed: ev/pgm, action: auto }, { note: 1, feed: ev/pgm, action: lock } ] }\n`,
			),
		).toThrow(/the same button as midi\.controls\[0\]/)
		expect(() =>
			parseConfigText(`${base}midi: { controls: [ { note: 1, cc: 2, feed: ev/pgm, action: auto } ] }\n`),
		).toThrow(/give either note or cc/)
	})

	it('runs on without MIDI where there is no ALSA sequencer, saying so once', async () => {
		const lines: string[] = []
		const log = createLogger('info', { write: (s: string) => void lines.push(s) })
		const port = await openMidiPort(midi, log)
		if (process.platform === 'linux' && !(await import('node:fs')).existsSync('/dev/snd/seq')) {
			expect(port).toBeUndefined()
			expect(lines).toHaveLength(1)
			expect(lines[0]).toMatch(/no ALSA sequencer/)
		} else {
			// a machine with a sequencer but no surface: no matching port, said once
			expect(lines.length).toBeLessThanOrEqual(2)
			port?.close()
		}
	})
})
