// The control surfaces' lifecycle: MIDI ports are opened once per daemon, closed on stop, and opened again by the
// daemon a reload makes (never twice at once); LEDs follow the publisher only while the port is open.
import { describe, expect, it } from 'vitest'
import type { MidiPort } from '../../src/control/midi.ts'
import type { FeedState } from '../../src/control/payloads.ts'
import { parseConfigText } from '../../src/domain/load.ts'
import { buildModel } from '../../src/domain/model.ts'
import { silentLogger } from '../../src/log.ts'
import { Publisher } from '../../src/runtime/publisher.ts'
import { Surfaces } from '../../src/runtime/surfaces.ts'

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
broker: { listen: "127.0.0.1:0" }
midi:
  controls: [ { note: 36, feed: ev/pgm, action: take, path: sat } ]
  tally: [ { note: 50, feed: ev/pgm, path: sat, when: active } ]
`)
const model = buildModel(config)

class FakePorts {
	open = 0
	opened = 0
	sent: number[][] = []
	listeners: ((bytes: number[]) => void)[] = []
	opener = async (): Promise<MidiPort> => {
		this.open++
		this.opened++
		let closed = false
		return {
			name: 'fake',
			onMessage: (l) => this.listeners.push(l),
			send: (b) => {
				if (closed) throw new Error('send on a closed port')
				this.sent.push(b)
			},
			close: () => {
				if (closed) throw new Error('closed twice')
				closed = true
				this.open--
			},
		}
	}
}

const onAir = (active: string): FeedState => ({
	active,
	mode: 'auto',
	locked: false,
	paths: { fiber: { signal: 'up', state: 'healthy' }, sat: { signal: 'up', state: 'healthy' } },
	compliance: { compliant: true, healthyDiscretePaths: 2, required: 2 },
})

describe('control surfaces', () => {
	it('opens MIDI once, closes it on stop, and a reload opens it again once', async () => {
		const ports = new FakePorts()
		let state = onAir('fiber')
		const commands: string[] = []
		const make = () => {
			const publisher = new Publisher({
				model,
				feedStarted: () => true,
				feedState: () => state,
				feedExtras: () => ({ alarms: [], violations: [] }),
				deviceState: () => undefined,
			})
			const surfaces = new Surfaces({
				config,
				feeds: model.feeds.keys(),
				log: silentLogger,
				env: {},
				publisher,
				mqttCommand: async () => ({ ok: true }),
				command: async (feed, cmd, operator) => {
					commands.push(`${feed} ${cmd.action} ${cmd.path} by ${operator.name}`)
					return { ok: true }
				},
				openMidi: ports.opener,
			})
			return { publisher, surfaces }
		}
		const first = make()
		await first.surfaces.start()
		expect(ports.open).toBe(1)
		ports.listeners[0]!([0x90, 36, 127])
		expect(commands).toEqual(['ev/pgm take sat by midi:fake'])
		state = onAir('sat')
		first.publisher.feed('ev/pgm')
		expect(ports.sent.length).toBeGreaterThan(0)

		await first.surfaces.stop({ offline: false })
		expect(ports.open).toBe(0)
		// the old publisher no longer drives the closed port's LEDs
		const sent = ports.sent.length
		state = onAir('fiber')
		first.publisher.feed('ev/pgm')
		expect(ports.sent.length).toBe(sent)

		const second = make()
		await second.surfaces.start()
		expect([ports.open, ports.opened]).toEqual([1, 2])
		await second.surfaces.stop({ offline: true })
		expect(ports.open).toBe(0)
	})
})
