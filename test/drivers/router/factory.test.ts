import { describe, expect, it } from 'vitest'
import { createRouter, isRouterDevice } from '../../../drivers/router/index.ts'
import { Swp08Router } from '../../../drivers/swp08/connection.ts'
import { VideohubRouter } from '../../../drivers/videohub/connection.ts'
import { fromWire, portInRange, toWire } from '../../../drivers/router/ports.ts'
import { parseConfigText } from '../../../src/domain/load.ts'
import { silentLogger } from '../../../src/log.ts'
import { createRouterSim, simListenAddress } from '../../../drivers/router/sim.ts'
import { Swp08Sim } from '../../../drivers/swp08/sim.ts'
import { VideohubSim } from '../../../drivers/videohub/sim.ts'

const config = parseConfigText(`
site: { id: t }
devices:
  - { id: vh, role: router, driver: { type: videohub, host: 127.0.0.1 } }
  - { id: p8, role: router, driver: { type: swp08, serial: { path: /dev/null } }, size: { inputs: 2000, outputs: 1500 } }
  - { id: ups, role: ups, driver: { type: nut, host: 127.0.0.1, ups: u } }
  - { id: enc, role: encoder }
`)
const ctx = { log: silentLogger, env: {} }
const dev = (id: string) => config.devices.find((d) => d.id === id)!

describe('createRouter', () => {
	it('picks the driver from driver.type, with the config size and 1-based ports', async () => {
		const vh = createRouter(dev('vh'), ctx)
		expect(vh).toBeInstanceOf(VideohubRouter)
		expect(vh.driver).toBe('videohub')
		const p8 = createRouter(dev('p8'), ctx)
		expect(p8).toBeInstanceOf(Swp08Router)
		expect(p8.size()).toEqual({ inputs: 2000, outputs: 1500 })
		// never started: stop is still clean
		await vh.stop()
		await p8.stop()
	})

	it('refuses devices that are not routers, with a clear message', () => {
		expect(isRouterDevice(dev('ups'))).toBe(false)
		expect(() => createRouter(dev('ups'), ctx)).toThrow(
			/device "ups" is not a router this version drives \(driver "nut"/,
		)
		expect(() => createRouter(dev('enc'), ctx)).toThrow(/driver absent/)
	})

	it('converts ports in one place: 1-based outside, 0-based on the wire', () => {
		expect(toWire(1)).toBe(0)
		expect(fromWire(0)).toBe(1)
		expect(portInRange(0, 16)).toBe(false)
		expect(portInRange(16, 16)).toBe(true)
		expect(portInRange(17, 16)).toBe(false)
		expect(portInRange(1.5, undefined)).toBe(false)
		expect(portInRange(9999, undefined)).toBe(true)
	})
})

describe('createRouterSim (for the lab)', () => {
	it('makes the simulator of a config router, sized from the config, and says where it listens', async () => {
		const vh = createRouterSim(dev('vh'))
		expect(vh).toBeInstanceOf(VideohubSim)
		expect(simListenAddress(dev('vh'))).toEqual({ host: '127.0.0.1', port: 9990 })
		const p8 = createRouterSim(dev('p8'))
		expect(p8).toBeInstanceOf(Swp08Sim)
		expect(p8.outputs).toBe(1500)
		expect(simListenAddress(dev('p8'))).toBeNull()
		expect(() => createRouterSim(dev('ups'))).toThrow(/no router driver/)
		// a lab run end to end on a free port: the router driver syncs with the simulator
		await vh.start({ host: '127.0.0.1', port: 0 })
		const port = vh.port
		const router = createRouter({ ...dev('vh'), driver: { type: 'videohub', host: '127.0.0.1', port } }, ctx)
		router.start()
		await router.whenSynced(3000)
		expect(router.routing().size).toBe(16)
		await router.stop()
		await vh.stop()
	})
})
