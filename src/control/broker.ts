// The embedded MQTT broker: a fallback, for a config without `mqtt` (docs/contract.md §2), and it says so when it
// starts. aedes is a real MQTT 3.1.1 broker; it does not speak MQTT 5, so over it panels get their replies on
// `.../set/result` and have no users of their own. A BOC runs mosquitto with config/mosquitto.acl, and so does the
// lab (src/lab/broker.ts).
//
// Even on loopback it keeps the ACL of a BOC: only the daemon (authenticated with a per-process secret) may publish
// outside the feeds' `set` topics, `alarms/ack` and the panels' FACS commands; anyone may subscribe under
// sigpath/<site>/.
import { randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:net'
import { Aedes } from 'aedes'
import type { Logger } from 'pino'

export interface EmbeddedBroker {
	host: string
	port: number
	url: string
	/** credentials of the daemon's own client */
	username: string
	password: string
	close: () => Promise<void>
}

export async function startEmbeddedBroker(
	site: string,
	host: string,
	port: number,
	log: Logger,
): Promise<EmbeddedBroker> {
	const username = 'sigpath'
	const password = randomBytes(18).toString('base64url')
	const daemonClients = new Set<string>()
	const base = `sigpath/${site}/`
	const quoted = site.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
	// what a panel may send: a feed's `set`, an alarm's acknowledgement, and a FACS command (docs/contract.md §10)
	const panelTopic = new RegExp(
		`^sigpath/${quoted}/(feeds/[^/+#]+/[^/+#]+/set|alarms/ack|panels/[^/+#]+/events/[^/+#]+/facs)$`,
	)
	const broker = await Aedes.createBroker({
		authenticate: (client, user, pass, done) => {
			if (user === username) {
				if (pass?.toString() === password) {
					daemonClients.add(client.id)
					return done(null, true)
				}
				const err = Object.assign(new Error('bad user name or password'), { returnCode: 4 as const })
				return done(err, false)
			}
			done(null, true) // panels on loopback: what they may do is limited below
		},
		authorizePublish: (client, packet, callback) => {
			if (client === null || daemonClients.has(client.id)) return callback(null)
			if (panelTopic.test(packet.topic) && !packet.retain) return callback(null)
			log.warn({ client: client.id, topic: packet.topic }, 'embedded broker: publish refused by ACL')
			callback(new Error('not authorized'))
		},
		authorizeSubscribe: (client, sub, callback) => {
			if (daemonClients.has(client.id) || sub.topic.startsWith(base)) return callback(null, sub)
			callback(new Error('not authorized'), null)
		},
	})
	broker.on('clientDisconnect', (client) => daemonClients.delete(client.id))
	const server: Server = createServer(broker.handle)
	await new Promise<void>((resolve, reject) => {
		server.once('error', (err) =>
			reject(new Error(`embedded MQTT broker: cannot listen on ${host}:${port}`, { cause: err })),
		)
		server.listen(port, host, () => resolve())
	})
	const addr = server.address()
	const bound = typeof addr === 'object' && addr ? addr.port : port
	log.warn(
		{ listen: `${host}:${bound}` },
		'embedded MQTT broker up: a fallback because the config names no broker (`mqtt`); MQTT 3.1.1 only (no v5 response topics, no panel users): a BOC runs mosquitto with config/mosquitto.acl',
	)
	return {
		host,
		port: bound,
		url: `mqtt://${host.includes(':') ? `[${host}]` : host}:${bound}`,
		username,
		password,
		close: async () => {
			await new Promise<void>((resolve) => broker.close(() => resolve()))
			await new Promise<void>((resolve) => server.close(() => resolve()))
		},
	}
}
