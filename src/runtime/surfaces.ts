// The control surfaces (docs/contract.md §5): MQTT panels, through the site's broker or the embedded one, and MIDI
// surfaces. Both send operator commands to the daemon and follow the publisher: MQTT as retained state, MIDI as
// LEDs. Started once per daemon and stopped with it: a reload makes a new daemon, which opens the MIDI ports again
// after the old one has closed them, so a port is never open twice.
import type { Logger } from 'pino'
import { connectControl, type ControlConnection } from '../control/connect.ts'
import { MidiMapper, openMidiPort, type MidiPort } from '../control/midi.ts'
import type { AckHandler, CommandHandler, MqttControl } from '../control/mqtt.ts'
import type { CommandResult, FeedState, SetCommand } from '../control/payloads.ts'
import type { Config } from '../domain/config.ts'
import type { FeedKey } from '../domain/model.ts'
import type { Publisher } from './publisher.ts'

export interface SurfacesDeps {
	config: Config
	feeds: Iterable<FeedKey>
	log: Logger
	env: NodeJS.ProcessEnv
	publisher: Publisher
	/** an MQTT panel's command */
	mqttCommand: CommandHandler
	/** an MQTT panel's alarm acknowledgement (absent: `alarms/ack` is not subscribed) */
	mqttAck?: AckHandler
	/** a MIDI surface's command, as operator `midi:<port>` */
	command: (feed: FeedKey, cmd: SetCommand, operator: { name: string; via: string }) => Promise<CommandResult>
	/** a pair's node (docs/contract.md §9): what its MQTT client may say and answer */
	pair?: { node: string; speaking: () => boolean; answers: () => boolean } | undefined
	/** opens the configured MIDI ports (default: @julusian/midi through openMidiPort); tests pass their own */
	openMidi?: typeof openMidiPort
}

export class Surfaces {
	private mqtt: ControlConnection | undefined
	private midi: { port: MidiPort; onFeed: (key: FeedKey, state: FeedState) => void } | undefined

	constructor(private readonly d: SurfacesDeps) {}

	async start(): Promise<void> {
		this.mqtt = await connectControl(this.d.config, {
			feeds: this.d.feeds,
			handler: this.d.mqttCommand,
			...(this.d.mqttAck ? { ack: this.d.mqttAck } : {}),
			log: this.d.log,
			env: this.d.env,
			...(this.d.pair ? { pair: this.d.pair } : {}),
		})
		this.d.publisher.attach(this.mqtt.control)
		await this.startMidi()
	}

	/** Every retained state again: a pair's node became the active one (§9). */
	republish(): void {
		this.mqtt?.control.republish()
	}

	/** the MQTT control client, once started (other commands than `set` subscribe through it: FACS) */
	get control(): MqttControl | undefined {
		return this.mqtt?.control
	}

	/** `offline: false` (a reload): the MQTT client leaves without publishing online=false; the next one takes over. */
	async stop(options: { offline: boolean }): Promise<void> {
		if (this.midi) {
			this.d.publisher.events.off('feed', this.midi.onFeed)
			this.midi.port.close()
			this.midi = undefined
		}
		const mqtt = this.mqtt
		this.mqtt = undefined
		if (!mqtt) return
		await mqtt.control.stop(options).catch((err: unknown) => this.d.log.warn({ err }, 'mqtt stop failed'))
		await mqtt.broker?.close().catch((err: unknown) => this.d.log.warn({ err }, 'embedded broker close failed'))
	}

	/** Buttons send commands as operator `midi:<port>`; LEDs follow the feeds' state. No port: the daemon runs on. */
	private async startMidi(): Promise<void> {
		const cfg = this.d.config.midi
		if (!cfg) return
		const port = await (this.d.openMidi ?? openMidiPort)(cfg, this.d.log.child({ part: 'midi' }))
		if (!port) return
		const mapper = new MidiMapper(cfg)
		const operator = { name: `midi:${port.name}`, via: 'midi' }
		port.onMessage((bytes) => {
			for (const c of mapper.decode(bytes))
				void this.d.command(c.feed as FeedKey, c.command, operator).then((r) => {
					if (!r.ok) this.d.log.warn({ feed: c.feed, error: r.error }, 'MIDI command refused')
				})
		})
		const states = new Map<string, FeedState>()
		const onFeed = (key: FeedKey, state: FeedState): void => {
			states.set(key, state)
			for (const msg of mapper.leds(states)) port.send(msg)
		}
		this.d.publisher.events.on('feed', onFeed)
		this.midi = { port, onFeed }
	}
}
