// A real mosquitto for tests: credentials and ACLs, on a free loopback port, restartable on the same port.
import { execFileSync } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, requireBinary, spawnPeer, waitForTcp, type Peer } from './peers.ts'

export interface Mosquitto {
	port: number
	url: string
	dir: string
	stop: () => Promise<void>
	restart: () => Promise<void>
	close: () => Promise<void>
}

export async function startMosquitto(users: Record<string, string>, acl: string): Promise<Mosquitto> {
	const bin = requireBinary('mosquitto', 'mosquitto')
	const passwd = requireBinary('mosquitto_passwd', 'mosquitto')
	const dir = mkdtempSync(join(tmpdir(), 'sigpath-mosq-'))
	chmodSync(dir, 0o755) // mosquitto drops to user mosquitto when started as root: it must read these files
	const pwFile = join(dir, 'passwd')
	writeFileSync(pwFile, '')
	for (const [user, pw] of Object.entries(users)) execFileSync(passwd, ['-b', pwFile, user, pw])
	chmodSync(pwFile, 0o644)
	writeFileSync(join(dir, 'acl'), acl, { mode: 0o644 })
	const port = await freePort()
	writeFileSync(
		join(dir, 'mosquitto.conf'),
		[
			`listener ${port} 127.0.0.1`,
			'allow_anonymous false',
			`password_file ${pwFile}`,
			`acl_file ${join(dir, 'acl')}`,
			'persistence false',
			// Nagle on the broker's sockets adds ~40 ms to every small reply (delayed ACKs): a control system wants it off
			'set_tcp_nodelay true',
			'log_dest stderr',
			'log_type error',
			'log_type warning',
			'',
		].join('\n'),
		{ mode: 0o644 },
	)
	let peer: Peer | undefined
	const start = async () => {
		peer = spawnPeer(bin, ['-c', join(dir, 'mosquitto.conf')])
		await waitForTcp(port).catch((err: Error) => {
			throw new Error(`mosquitto did not start: ${peer?.output() ?? ''}`, { cause: err })
		})
	}
	await start()
	return {
		port,
		url: `mqtt://127.0.0.1:${port}`,
		dir,
		stop: async () => peer?.stop(),
		restart: async () => {
			await peer?.stop()
			await start()
		},
		close: async () => {
			await peer?.stop()
			rmSync(dir, { recursive: true, force: true })
		},
	}
}

/**
 * The ACL of a BOC, as docs/operations.md gives it: the daemon owns sigpath/#; each panel (an MQTT user) owns its
 * space `panels/<user>/` (commands, alarm acknowledgements and their replies) and reads its own `replies/<user>/`,
 * the state and the alarms; the v1 `feeds/.../set` topic stays writable for panels not moved yet (panel null).
 */
export const PANEL_ACL = `user sigpath
topic readwrite sigpath/#

pattern readwrite sigpath/+/panels/%u/#
pattern read sigpath/+/replies/%u/#
pattern read sigpath/+/feeds/+/+/state
pattern read sigpath/+/devices/+/state
pattern read sigpath/+/online
pattern read sigpath/+/alarms
pattern read sigpath/+/alarms/active
pattern write sigpath/+/feeds/+/+/set
pattern read sigpath/+/feeds/+/+/set/result
pattern write sigpath/+/alarms/ack
pattern read sigpath/+/alarms/ack/result
pattern read sigpath/+/journal/head
`
