// MQTT control of docs/contract.md §5: hardware panels send `set` commands; sigpath publishes retained feed and device
// state, its `online` flag (with a last will) and alarms. MQTT.js does the protocol; this file owns the topics, the
// validation, the replies and the rules that keep a panel from moving a crosspoint by accident:
//   - every payload is validated (size first, then JSON, then zod); a bad one changes nothing and gets a reply;
//   - commands of one feed run one at a time, in arrival order;
//   - a QoS 1 redelivery (DUP) of a command already handled is answered again, not executed again;
//   - retained state is published only after the runtime's first full sync, and again after every reconnect
//     (a broker restarted without persistence has lost it).
import { readFileSync } from 'node:fs'
import { Socket } from 'node:net'
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt'
import type { Logger } from 'pino'
import type { FeedKey } from '../domain/model.ts'
import {
	parseSetPayload,
	type Alarm,
	type CommandResult,
	type DeviceState,
	type FeedState,
	type SetCommand,
} from './payloads.ts'

export interface Operator {
	/** the name recorded in the journal */
	name: string
	/** how it was learned: the payload's claim, a v5 user property, the panel's reply topic, or the client itself */
	source: 'payload' | 'user-property' | 'reply-topic' | 'unknown'
	via: 'mqtt'
}

export type CommandHandler = (feed: FeedKey, command: SetCommand, operator: Operator) => Promise<CommandResult>

export type ExtraHandler = (
	topic: string,
	payload: Buffer,
	props: { responseTopic?: string; correlationData?: Buffer },
) => void

/** An MQTT topic filter with `+` (one level) and a final `#` against a topic. */
export function topicMatches(filter: string, topic: string): boolean {
	const f = filter.split('/')
	const t = topic.split('/')
	for (let i = 0; i < f.length; i++) {
		if (f[i] === '#') return true
		if (i >= t.length || (f[i] !== '+' && f[i] !== t[i])) return false
	}
	return f.length === t.length
}

export interface MqttControlOptions {
	site: string
	url: string
	username?: string
	/** resolved secret */
	password?: string
	clientId: string
	tls?: { ca?: string; cert?: string; key?: string }
	/** feeds that exist: a command for any other gets an error reply */
	feeds: ReadonlySet<string>
	handler: CommandHandler
	log: Logger
	/** MQTT protocol version: 5 (default, request/response) or 4 (3.1.1) */
	protocolVersion?: 4 | 5
	reconnectPeriodMs?: number
	connectTimeoutMs?: number
}

const DEDUPE_MS = 60_000

export class MqttControl {
	readonly base: string
	private client: MqttClient | undefined
	private synced = false
	private readonly retained = new Map<string, string>()
	private readonly feedQueues = new Map<string, Promise<void>>()
	private readonly handled = new Map<string, { at: number; reply: CommandResult }>()
	private stopping = false
	/** commands beside `set` (FACS): topic filter -> handler, subscribed on every connect */
	private readonly extra = new Map<string, ExtraHandler>()

	constructor(private readonly o: MqttControlOptions) {
		this.base = `sigpath/${o.site}`
	}

	get connected(): boolean {
		return this.client?.connected ?? false
	}

	/** Connects (MQTT.js keeps reconnecting), subscribes to the feeds' `set` topics. Resolves on the first connect. */
	async start(): Promise<void> {
		const o = this.o
		const options: IClientOptions = {
			clientId: o.clientId,
			protocolVersion: o.protocolVersion ?? 5,
			// a persistent session, so that a command sent during a short drop is not lost; it expires after 30 s so
			// that a command is never executed long after the operator pressed the button
			clean: false,
			reconnectPeriod: o.reconnectPeriodMs ?? 1000,
			connectTimeout: o.connectTimeoutMs ?? 5000,
			will: { topic: `${this.base}/online`, payload: Buffer.from('false'), qos: 1, retain: true },
			...(o.protocolVersion === 4 ? {} : { properties: { sessionExpiryInterval: 30 } }),
			...(o.username !== undefined ? { username: o.username } : {}),
			...(o.password !== undefined ? { password: o.password } : {}),
			...(o.tls?.ca ? { ca: readFileSync(o.tls.ca) } : {}),
			...(o.tls?.cert ? { cert: readFileSync(o.tls.cert) } : {}),
			...(o.tls?.key ? { key: readFileSync(o.tls.key) } : {}),
		}
		const client = mqtt.connect(o.url, options)
		this.client = client
		client.on('message', (topic, payload, packet) => this.onMessage(topic, payload, packet))
		// started means subscribed: a command sent the moment start() resolves must not be lost
		let settleSubscribe: ((err?: Error) => void) | undefined
		const subscribed = new Promise<void>((resolve, reject) => {
			settleSubscribe = (err) =>
				err ? reject(new Error(`mqtt: cannot subscribe to the set topics: ${err.message}`, { cause: err })) : resolve()
		})
		client.on('connect', (ack) => {
			// Nagle's algorithm holds small writes back ~40 ms behind delayed ACKs: a reply to a panel must not wait
			if (client.stream instanceof Socket) client.stream.setNoDelay(true)
			o.log.info({ url: o.url, sessionPresent: ack.sessionPresent }, 'mqtt connected')
			for (const filter of this.extra.keys()) this.subscribeExtra(filter)
			client.subscribe(`${this.base}/feeds/+/+/set`, { qos: 1 }, (err) => {
				if (err) o.log.error({ err }, 'mqtt subscribe failed')
				settleSubscribe?.(err ?? undefined)
				settleSubscribe = undefined
			})
			if (this.synced) this.republish()
		})
		client.on('reconnect', () => o.log.debug('mqtt reconnecting'))
		client.on('offline', () => o.log.warn('mqtt offline'))
		client.on('error', (err) => o.log.error({ err: err.message }, 'mqtt error'))
		await new Promise<void>((resolve, reject) => {
			const onConnect = () => {
				client.off('error', onError)
				resolve()
			}
			const onError = (err: Error) => {
				// a refused connection (bad credentials) is final: MQTT.js would retry forever
				if ('code' in err && typeof err.code === 'number') {
					client.off('connect', onConnect)
					client.end(true)
					reject(new Error(`mqtt: ${err.message}`, { cause: err }))
				}
			}
			client.once('connect', onConnect)
			client.on('error', onError)
		})
		try {
			await subscribed
		} catch (err) {
			await client.endAsync(true)
			throw err
		}
	}

	/** The runtime's first full sync is done: retained state may be published from now on. */
	markSynced(): void {
		if (this.synced) return
		this.synced = true
		this.republish()
	}

	publishFeedState(feed: FeedKey, state: FeedState): void {
		this.retain(`${this.base}/feeds/${feed}/state`, JSON.stringify(state))
	}

	publishDeviceState(device: string, state: DeviceState): void {
		this.retain(`${this.base}/devices/${device}/state`, JSON.stringify(state))
	}

	publishAlarm(alarm: Alarm): void {
		if (!this.client?.connected) {
			this.o.log.warn({ alarm }, 'mqtt down: alarm not published (it is journaled)')
			return
		}
		this.client.publish(`${this.base}/alarms`, JSON.stringify(alarm), { qos: 1, retain: false }, (err) => {
			if (err) this.o.log.error({ err: err.message }, 'mqtt alarm publish failed')
		})
	}

	/**
	 * Publishes online=false (retained), waits for the broker to take it, and disconnects. `offline: false` (a reload,
	 * where a new client takes over at once) disconnects cleanly without saying offline.
	 */
	async stop(options: { offline?: boolean } = {}): Promise<void> {
		const client = this.client
		if (!client || this.stopping) return
		this.stopping = true
		if (client.connected && options.offline !== false) {
			await new Promise<void>((resolve) => {
				client.publish(`${this.base}/online`, 'false', { qos: 1, retain: true }, (err) => {
					if (err) this.o.log.warn({ err: err.message }, 'mqtt: online=false not acknowledged')
					resolve()
				})
			})
		}
		await client.endAsync()
		this.client = undefined
	}

	/** Another command topic (a filter under the base, `+` wildcards): subscribed now and on every reconnect. */
	handle(filter: string, handler: ExtraHandler): void {
		this.extra.set(filter, handler)
		if (this.client?.connected) this.subscribeExtra(filter)
	}

	/** Retained state of another kind (FACS results): published once synced, and again after every reconnect. */
	publishRetained(topic: string, payload: string): void {
		this.retain(topic, payload)
	}

	/** A reply to a command of another kind, with its correlation data. */
	publishReply(topic: string, payload: string, correlation?: Buffer): void {
		this.reply(topic, correlation, payload)
	}

	private subscribeExtra(filter: string): void {
		this.client?.subscribe(filter, { qos: 1 }, (err) => {
			if (err) this.o.log.error({ err, filter }, 'mqtt subscribe failed')
		})
	}

	private retain(topic: string, payload: string): void {
		if (this.retained.get(topic) === payload) return // a repeated state changes nothing
		this.retained.set(topic, payload)
		if (this.synced) this.send(topic, payload)
	}

	private republish(): void {
		this.send(`${this.base}/online`, 'true')
		for (const [topic, payload] of this.retained) this.send(topic, payload)
	}

	private send(topic: string, payload: string): void {
		const client = this.client
		if (!client?.connected) return // republished on the next connect
		client.publish(topic, payload, { qos: 1, retain: true }, (err) => {
			if (err) this.o.log.error({ err: err.message, topic }, 'mqtt publish failed')
		})
	}

	private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
		for (const [filter, handler] of this.extra)
			if (topicMatches(filter, topic)) return handler(topic, payload, packet.properties ?? {})
		// sigpath/<site>/feeds/<event>/<feed>/set
		const parts = topic.split('/')
		if (parts.length !== 6 || parts[5] !== 'set') return
		const feed = `${parts[3]}/${parts[4]}` as FeedKey
		const props = packet.properties
		const replyTo = props?.responseTopic ?? `${topic}/result`
		const correlation = props?.correlationData
		const dedupeKey = `${topic}\0${correlation?.toString('hex') ?? ''}\0${payload.toString('base64')}`
		const now = Date.now()
		for (const [k, v] of this.handled) if (now - v.at > DEDUPE_MS) this.handled.delete(k)
		const previous = this.handled.get(dedupeKey)
		if (packet.dup && previous) {
			this.o.log.info({ feed }, 'mqtt: redelivered command answered again, not executed again')
			this.reply(replyTo, correlation, previous.reply)
			return
		}
		const parsed = parseSetPayload(payload)
		if (!parsed.ok) return this.finish(dedupeKey, replyTo, correlation, { ok: false, error: parsed.error }, feed)
		if (!this.o.feeds.has(feed))
			return this.finish(dedupeKey, replyTo, correlation, { ok: false, error: `unknown feed ${feed}` }, feed)
		const operator = this.operatorOf(parsed.command, packet, props?.responseTopic)
		const queue = this.feedQueues.get(feed) ?? Promise.resolve()
		const next = queue.then(async () => {
			let result: CommandResult
			try {
				result = await this.o.handler(feed, parsed.command, operator)
			} catch (err) {
				this.o.log.error({ err, feed }, 'command handler failed')
				result = { ok: false, error: `internal error: ${(err as Error).message}` }
			}
			this.finish(dedupeKey, replyTo, correlation, result, feed)
		})
		this.feedQueues.set(feed, next)
	}

	private operatorOf(command: SetCommand, packet: IPublishPacket, responseTopic: string | undefined): Operator {
		if (command.operator) return { name: command.operator, source: 'payload', via: 'mqtt' }
		const up = packet.properties?.userProperties?.['operator']
		const fromProp = Array.isArray(up) ? up[0] : up
		if (fromProp) return { name: fromProp, source: 'user-property', via: 'mqtt' }
		// replies/<panel>/... : the broker's ACL lets only that panel read there
		const m = responseTopic?.match(new RegExp(`^${this.base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/replies/([^/]+)/`))
		if (m?.[1]) return { name: m[1], source: 'reply-topic', via: 'mqtt' }
		return { name: 'unknown', source: 'unknown', via: 'mqtt' }
	}

	private finish(
		key: string,
		replyTo: string,
		correlation: Buffer | undefined,
		result: CommandResult,
		feed: string,
	): void {
		this.handled.set(key, { at: Date.now(), reply: result })
		if (!result.ok) this.o.log.warn({ feed, error: result.error }, 'command refused')
		this.reply(replyTo, correlation, result)
	}

	private reply(topic: string, correlation: Buffer | undefined, result: CommandResult | string): void {
		const client = this.client
		if (!client?.connected) return
		client.publish(
			topic,
			typeof result === 'string' ? result : JSON.stringify(result),
			{ qos: 1, retain: false, ...(correlation ? { properties: { correlationData: correlation } } : {}) },
			(err) => {
				if (err) this.o.log.error({ err: err.message, topic }, 'mqtt reply failed')
			},
		)
	}
}
