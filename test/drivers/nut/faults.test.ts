// NUT client faults against a scripted upsd stand-in (a loopback TCP server): garbage replies, a upsd that
// stops answering (request timeout, reconnect), a dropped connection, and no handles left after stop().
import { createServer, type Server, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { NutUpsDevice } from '../../../drivers/nut/device.ts'
import { NutDriver } from '../../../src/domain/drivers.ts'
import { silentLogger } from '../../../src/log.ts'
import { newResources, sleep, until } from '../snmp/peers.ts'

type Mode = 'ok' | 'garbage' | 'mute' | 'hangup'

interface Fake {
	server: Server
	port: number
	mode: Mode
	status: string
	connections: number
	sockets: Set<Socket>
	close: () => Promise<void>
}

async function fakeUpsd(): Promise<Fake> {
	const sockets = new Set<Socket>()
	const f: Fake = {
		server: createServer(),
		port: 0,
		mode: 'ok',
		status: 'OL',
		connections: 0,
		sockets,
		close: async () => {
			for (const s of sockets) s.destroy()
			await new Promise<void>((r) => f.server.close(() => r()))
		},
	}
	f.server.on('connection', (sock) => {
		f.connections++
		sockets.add(sock)
		sock.on('close', () => sockets.delete(sock))
		sock.on('error', () => sockets.delete(sock))
		let buf = ''
		sock.on('data', (d) => {
			buf += d.toString('latin1')
			let nl: number
			while ((nl = buf.indexOf('\n')) >= 0) {
				const line = buf.slice(0, nl)
				buf = buf.slice(nl + 1)
				if (f.mode === 'mute') continue
				if (f.mode === 'hangup') {
					sock.destroy()
					return
				}
				if (f.mode === 'garbage') {
					sock.write('\u0000\u00ff%%%% not nut\n')
					continue
				}
				if (line === 'LIST VAR ups')
					sock.write(
						`BEGIN LIST VAR ups\nVAR ups battery.charge "77"\nVAR ups ups.status "${f.status}"\nEND LIST VAR ups\n`,
					)
				else sock.write('ERR UNKNOWN-COMMAND\n')
			}
		})
	})
	await new Promise<void>((r) => f.server.listen(0, '127.0.0.1', () => r()))
	const a = f.server.address()
	if (a === null || typeof a === 'string') throw new Error('no port')
	f.port = a.port
	return f
}

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
	for (const c of cleanups.reverse()) await c()
	cleanups.length = 0
})

function device(port: number): NutUpsDevice {
	const d = new NutUpsDevice({
		id: 'nut-f',
		config: NutDriver.parse({ type: 'nut', host: '127.0.0.1', port, ups: 'ups', pollMs: 100 }),
		log: silentLogger,
		requestTimeoutMs: 300,
		staleAfterMs: 600,
		commLostAfterMs: 1200,
	})
	cleanups.push(() => d.stop())
	return d
}

describe('NUT client faults', () => {
	it('garbage replies are faults, never readings; a later good reply is read', async () => {
		const f = await fakeUpsd()
		cleanups.push(() => f.close())
		f.mode = 'garbage'
		const d = device(f.port)
		const faults: string[] = []
		d.on('fault', (e) => faults.push(e.message))
		d.start()
		await until(() => faults.length >= 2, 3000, 'faults')
		expect(d.status.reading).toBeNull()
		f.mode = 'ok'
		f.status = 'OB'
		await until(() => d.status.reading?.power === 'on-battery', 3000, 'reading after garbage')
		expect(d.status.reading?.chargePercent).toBe(77)
	})

	it('a upsd that stops answering: request timeout, reconnect, stale, comm-lost; back when it answers', async () => {
		const f = await fakeUpsd()
		cleanups.push(() => f.close())
		const d = device(f.port)
		d.start()
		await until(() => d.synced, 3000, 'first read')
		f.mode = 'mute'
		const codes: string[] = []
		d.on('fault', (e) => codes.push('kind' in e ? String(e.kind) : e.message))
		await until(() => codes.includes('timeout'), 3000, 'a request timeout')
		await until(() => f.connections >= 2, 5000, 'a reconnect after the timeout')
		await until(() => d.status.freshness.stale, 3000, 'stale')
		await until(() => d.status.commLost, 3000, 'comm-lost')
		f.mode = 'ok'
		await until(() => !d.status.commLost && d.status.freshness.connected, 5000, 'back')
	})

	it('a dropped connection is reconnected and read again', async () => {
		const f = await fakeUpsd()
		cleanups.push(() => f.close())
		const d = device(f.port)
		d.start()
		await until(() => d.synced, 3000, 'first read')
		f.mode = 'hangup'
		await until(() => !d.status.freshness.connected, 3000, 'disconnected')
		f.mode = 'ok'
		f.status = 'OL BYPASS'
		await until(() => d.status.reading?.power === 'bypass', 5000, 'read after reconnect')
		expect(f.connections).toBeGreaterThanOrEqual(2)
	})

	it('stop() leaves no socket or timer behind', async () => {
		const f = await fakeUpsd()
		cleanups.push(() => f.close())
		await sleep(50)
		const before = process.getActiveResourcesInfo()
		const d = new NutUpsDevice({
			id: 'nut-leak',
			config: NutDriver.parse({ type: 'nut', host: '127.0.0.1', port: f.port, ups: 'ups', pollMs: 100 }),
			log: silentLogger,
		})
		d.start()
		await until(() => d.synced, 3000, 'first read')
		await d.stop()
		await until(() => f.sockets.size === 0, 2000, 'server side closed')
		await sleep(50)
		expect(newResources(before, process.getActiveResourcesInfo())).toEqual([])
	})
})
