// The MQTT control client as the config asks for it (docs/contract.md §2 `mqtt` and `broker`): the site's broker
// (mosquitto in production) with its credentials and TLS, or, when the config names none, the embedded broker on
// loopback with a per-process secret. The `{ env }` password is resolved here; a missing variable throws SecretError
// before anything connects.
import type { Logger } from 'pino'
import type { Config } from '../domain/config.ts'
import type { FeedKey } from '../domain/model.ts'
import { splitListen } from '../domain/primitives.ts'
import { resolveSecret } from '../domain/secrets.ts'
import { startEmbeddedBroker, type EmbeddedBroker } from './broker.ts'
import { MqttControl, type AckHandler, type CommandHandler } from './mqtt.ts'

export interface ControlConnection {
	control: MqttControl
	/** the embedded broker, when the config names no broker of its own */
	broker: EmbeddedBroker | undefined
}

/** Starts the broker if it is ours, then the control client; resolves once its `set` topics are subscribed. */
export async function connectControl(
	cfg: Config,
	o: {
		feeds: Iterable<FeedKey>
		handler: CommandHandler
		ack?: AckHandler
		log: Logger
		env: NodeJS.ProcessEnv
		/** a pair's node (docs/contract.md §9): its own client id (two nodes with one id would push each other off) */
		pair?: { node: string; speaking: () => boolean; answers: () => boolean }
	},
): Promise<ControlConnection> {
	let broker: EmbeddedBroker | undefined
	let url: string
	let username: string | undefined
	let password: string | undefined
	let protocolVersion: 4 | 5 = 5
	if (cfg.mqtt) {
		url = cfg.mqtt.url
		username = cfg.mqtt.username
		password = cfg.mqtt.password !== undefined ? resolveSecret(cfg.mqtt.password, o.env) : undefined
	} else {
		const { host, port } = splitListen(cfg.broker?.listen ?? '127.0.0.1:1883')
		broker = await startEmbeddedBroker(cfg.site.id, host, port, o.log)
		url = broker.url
		username = broker.username
		password = broker.password
		protocolVersion = 4 // aedes speaks MQTT 3.1.1
	}
	const tls = cfg.mqtt?.tls
	const control = new MqttControl({
		site: cfg.site.id,
		url,
		...(username !== undefined ? { username } : {}),
		...(password !== undefined ? { password } : {}),
		clientId: `${cfg.mqtt?.clientId ?? `sigpath-${cfg.site.id}`}${o.pair ? `-${o.pair.node}` : ''}`,
		...(tls
			? {
					tls: {
						...(tls.ca ? { ca: tls.ca } : {}),
						...(tls.cert ? { cert: tls.cert } : {}),
						...(tls.key ? { key: tls.key } : {}),
					},
				}
			: {}),
		feeds: new Set(o.feeds),
		handler: o.handler,
		...(o.ack ? { ack: o.ack } : {}),
		log: o.log.child({ part: 'mqtt' }),
		protocolVersion,
		...(o.pair ? { online: false, speaking: o.pair.speaking, answers: o.pair.answers } : {}),
	})
	try {
		await control.start()
	} catch (err) {
		await broker?.close().catch((e: unknown) => o.log.warn({ err: e }, 'embedded broker close failed'))
		throw err
	}
	return { control, broker }
}
