// A pair's node on MQTT (docs/contract.md §9): its own retained state, and the site's `online` flag while it is the
// active node. MQTT gives one last will per connection, and the two facts need one each:
// - the node client, always connected: `sigpath/<site>/nodes/<node>/state` retained, its will the same topic with
//   role "offline" (a node that dies says so);
// - the online client, connected only while this node is active: `online` true, its will `online` false, so the
//   site reads false when the active dies and no node has taken over. It also listens to `online`: a false from an
//   earlier active's will (a paused node's broker session expires after its keep-alive, long after a standby took
//   over) is answered with true at once, so the flag is true while some node is active.
// A standby that becomes active connects its online client and publishes true; an active that steps down ends it
// cleanly (no will): the node that took over says true, and if none has after leaseMs + 1 s (etcd is lost, say), the
// nodes say false.
import { readFileSync } from 'node:fs'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import type { Logger } from 'pino'
import type { Config } from '../../domain/config.ts'
import { resolveSecret } from '../../domain/secrets.ts'
import type { NodeStatus } from './role.ts'

/** The online client's keep-alive (s): a paused active's will fires after 1.5 times this. */
const ONLINE_KEEPALIVE_S = 5

export class NodeLink {
	private readonly base: string
	private readonly options: IClientOptions & { url: string }
	private node: MqttClient | undefined
	private online: MqttClient | undefined
	private last: string | undefined

	constructor(
		cfg: Config,
		private readonly name: string,
		private readonly log: Logger,
		env: NodeJS.ProcessEnv,
	) {
		const m = cfg.mqtt!
		this.base = `sigpath/${cfg.site.id}`
		this.options = {
			url: m.url,
			protocolVersion: 5,
			reconnectPeriod: 1000,
			connectTimeout: 5000,
			...(m.username !== undefined ? { username: m.username } : {}),
			...(m.password !== undefined ? { password: resolveSecret(m.password, env) } : {}),
			...(m.tls?.ca ? { ca: readFileSync(m.tls.ca) } : {}),
			...(m.tls?.cert ? { cert: readFileSync(m.tls.cert) } : {}),
			...(m.tls?.key ? { key: readFileSync(m.tls.key) } : {}),
		}
		this.clientId = `${m.clientId ?? `sigpath-${cfg.site.id}`}-${name}`
	}

	private readonly clientId: string

	private get stateTopic(): string {
		return `${this.base}/nodes/${this.name}/state`
	}

	start(): void {
		const offline = JSON.stringify({ name: this.name, role: 'offline', active: null })
		const client = mqtt.connect(this.options.url, {
			...this.options,
			clientId: `${this.clientId}-node`,
			will: { topic: this.stateTopic, payload: Buffer.from(offline), qos: 1, retain: true },
		})
		this.node = client
		client.on('connect', () => {
			if (this.last !== undefined) this.publish(client, this.stateTopic, this.last)
		})
		client.on('error', (err) => this.log.warn({ err: err.message }, 'mqtt (node state) error'))
	}

	/** This node's state, retained (published again on every reconnect). */
	state(s: NodeStatus): void {
		const payload = JSON.stringify({ name: s.name, role: s.role, active: s.active })
		if (payload === this.last) return
		this.last = payload
		if (this.node?.connected) this.publish(this.node, this.stateTopic, payload)
	}

	/** This node is the active one (true) or not: the online client and its will follow. */
	active(on: boolean): void {
		if (on === (this.online !== undefined)) return
		if (!on) {
			const c = this.online!
			this.online = undefined
			// a clean DISCONNECT: the will (online false) is not sent; the node that takes over says true
			void c.endAsync().catch((err: unknown) => this.log.warn({ err }, 'mqtt (online) end failed'))
			return
		}
		const topic = `${this.base}/online`
		const client = mqtt.connect(this.options.url, {
			...this.options,
			clientId: `${this.clientId}-online`,
			keepalive: ONLINE_KEEPALIVE_S,
			will: { topic, payload: Buffer.from('false'), qos: 1, retain: true },
		})
		this.online = client
		client.on('connect', () => {
			this.publish(client, topic, 'true')
			client.subscribe(topic, { qos: 1 }, (err) => {
				if (err) this.log.warn({ err: err.message }, 'mqtt: cannot follow the online flag')
			})
		})
		client.on('message', (_t, payload) => {
			if (payload.toString() === 'true' || this.online !== client) return
			this.log.info('online was set false (an earlier active node): this node is active, so it is true')
			this.publish(client, topic, 'true')
		})
		client.on('error', (err) => this.log.warn({ err: err.message }, 'mqtt (online) error'))
	}

	/** No node has been active for a while (etcd lost, say): the site is not controlled, and `online` says so. */
	offline(): void {
		if (this.online || !this.node?.connected) return
		this.publish(this.node, `${this.base}/online`, 'false')
	}

	/** A clean stop: online false when this node was the active one, its own state offline. */
	async stop(): Promise<void> {
		const online = this.online
		this.online = undefined
		if (online?.connected) await this.publishAsync(online, `${this.base}/online`, 'false')
		await online?.endAsync()
		const node = this.node
		this.node = undefined
		if (node?.connected)
			await this.publishAsync(node, this.stateTopic, JSON.stringify({ name: this.name, role: 'offline', active: null }))
		await node?.endAsync()
	}

	private publish(client: MqttClient, topic: string, payload: string): void {
		client.publish(topic, payload, { qos: 1, retain: true }, (err) => {
			if (err) this.log.warn({ err: err.message, topic }, 'mqtt publish failed')
		})
	}

	private publishAsync(client: MqttClient, topic: string, payload: string): Promise<void> {
		return client.publishAsync(topic, payload, { qos: 1, retain: true }).then(
			() => undefined,
			(err: unknown) => this.log.warn({ err, topic }, 'mqtt publish failed'),
		)
	}
}
