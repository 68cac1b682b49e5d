// A lab config moved onto ports of its own: every address the lab listens on (the simulators, the SRT listeners and
// their relays, the trap receiver, the status endpoint, the broker) becomes a port free right now, and every serial
// pty a path in the given directory. A rehearsal runs on it, so it runs beside a lab that holds the config's own
// ports, and never sends its relayed video to the lab's relay ports. A config's own broker (`mqtt`) is dropped: the
// lab then runs its mosquitto on the free `broker.listen`.
import { createSocket, type Socket } from 'node:dgram'
import { createServer, type Server } from 'node:net'
import { basename, join } from 'node:path'
import type { Config } from '../domain/config.ts'
import { splitListen } from '../domain/primitives.ts'

type Proto = 'tcp' | 'udp'

/**
 * Ports are taken by binding port 0, all of them held until every one is known, so no two of them are the same;
 * they are released for the simulators to bind a moment later.
 */
class PortPool {
	private readonly held: (() => Promise<void>)[] = []

	async take(proto: Proto, host: string): Promise<number> {
		if (proto === 'tcp') {
			const srv: Server = createServer()
			this.held.push(() => new Promise((resolve) => srv.close(() => resolve())))
			await new Promise<void>((resolve, reject) => {
				srv.once('error', reject)
				srv.listen(0, host, () => resolve())
			})
			const a = srv.address()
			if (a === null || typeof a === 'string') throw new Error(`no free TCP port on ${host}`)
			return a.port
		}
		const sock: Socket = createSocket(host.includes(':') ? 'udp6' : 'udp4')
		this.held.push(() => new Promise((resolve) => sock.close(() => resolve())))
		await new Promise<void>((resolve, reject) => {
			sock.once('error', reject)
			sock.bind(0, host, () => resolve())
		})
		return sock.address().port
	}

	async release(): Promise<void> {
		await Promise.all(this.held.splice(0).map((close) => close()))
	}
}

const hostPort = (host: string, port: number): string => `${host.includes(':') ? `[${host}]` : host}:${port}`

/** The config with every lab address on a free port and every serial path under `dir`. */
export async function onFreePorts(config: Config, dir: string): Promise<Config> {
	const c = structuredClone(config)
	// and a broker of its own: a config's site broker (`mqtt`) would see a second daemon with the same client id
	delete c.mqtt
	const pool = new PortPool()
	try {
		// one upsd serves several UPS devices: they move together
		const nut = new Map<string, number>()
		for (const d of c.devices) {
			const drv = d.driver
			if (!drv) continue
			switch (drv.type) {
				case 'videohub':
					drv.port = await pool.take('tcp', drv.host)
					break
				case 'swp08':
					if (drv.host !== undefined) drv.port = await pool.take('tcp', drv.host)
					if (drv.serial) drv.serial.path = join(dir, basename(drv.serial.path))
					break
				case 'megatec':
					drv.serial.path = join(dir, basename(drv.serial.path))
					break
				case 'snmp':
				case 'snmp-ups':
					drv.port = await pool.take('udp', drv.host)
					break
				case 'nut': {
					const key = `${drv.host}:${drv.port}`
					const port = nut.get(key) ?? (await pool.take('tcp', drv.host))
					nut.set(key, port)
					drv.port = port
					break
				}
				case 'srt':
					if (drv.mode === 'listener') drv.port = await pool.take('udp', drv.bind)
					if (drv.relayTo !== undefined) {
						const { host } = splitListen(drv.relayTo.replace(/^udp:\/\//, ''))
						drv.relayTo = `udp://${hostPort(host, await pool.take('udp', host))}`
					}
					break
			}
		}
		if (c.traps) {
			const { host } = splitListen(c.traps.listen)
			c.traps = { ...c.traps, listen: hostPort(host, await pool.take('udp', host)) }
		}
		const http = splitListen(c.http?.listen ?? '127.0.0.1:8080')
		c.http = { ...c.http, listen: hostPort(http.host, await pool.take('tcp', http.host)) }
		const broker = splitListen(c.broker?.listen ?? '127.0.0.1:1883')
		c.broker = { listen: hostPort(broker.host, await pool.take('tcp', broker.host)) }
	} finally {
		await pool.release()
	}
	return c
}
