// MIDI control surfaces: buttons send feed commands, LEDs show state. The mapping (bytes <-> commands, state ->
// LED bytes) is pure and tested with byte sequences; the port is behind the MidiPort interface, opened with
// @julusian/midi (RtMidi over ALSA) only where an ALSA sequencer exists.
import { existsSync } from 'node:fs'
import type { Logger } from 'pino'
import type { z } from 'zod'
import type { Midi } from '../domain/config.ts'
import type { FeedState, SetCommand } from './payloads.ts'

export type MidiConfig = z.infer<typeof Midi>

export interface MidiCommand {
	feed: string
	command: SetCommand
}

const NOTE_OFF = 0x80
const NOTE_ON = 0x90
const CONTROL_CHANGE = 0xb0

/** The button a message addresses: `n<note>` or `c<cc>`, on a 1-based channel. */
function key(channel: number, kind: 'n' | 'c', num: number): string {
	return `${channel}:${kind}${num}`
}

/**
 * Bytes in, commands out; state in, LED bytes out. Only changes are sent to the LEDs: a surface is a slow serial
 * device, and resending every LED on every state change floods it.
 */
export class MidiMapper {
	private readonly buttons = new Map<string, MidiConfig['controls'][number]>()
	private readonly lit = new Map<string, boolean>()
	/** running status (MIDI 1.0): a data byte after a channel message repeats its status */
	private status = 0
	private data: number[] = []

	constructor(private readonly config: MidiConfig) {
		for (const c of config.controls)
			this.buttons.set(key(c.channel, c.note !== undefined ? 'n' : 'c', c.note ?? c.cc!), c)
	}

	/** Feeds raw MIDI bytes (whole messages or any split of them); returns the commands of the buttons pressed. */
	decode(bytes: Iterable<number>): MidiCommand[] {
		const out: MidiCommand[] = []
		for (const b of bytes) {
			if (b >= 0xf8) continue // real-time messages may appear anywhere, even inside another message
			if (b >= 0xf0) {
				this.status = 0 // system common / SysEx: cancels running status; its data bytes are ignored
				this.data = []
				continue
			}
			if (b & 0x80) {
				this.status = b
				this.data = []
				continue
			}
			if (this.status === 0) continue // a stray data byte
			this.data.push(b)
			const type = this.status & 0xf0
			const needed = type === 0xc0 || type === 0xd0 ? 1 : 2
			if (this.data.length < needed) continue
			const [d1 = 0, d2 = 0] = this.data
			this.data = []
			const channel = (this.status & 0x0f) + 1
			let pressed: MidiConfig['controls'][number] | undefined
			if (type === NOTE_ON && d2 > 0) pressed = this.buttons.get(key(channel, 'n', d1))
			else if (type === CONTROL_CHANGE && d2 >= 64) pressed = this.buttons.get(key(channel, 'c', d1))
			if (!pressed) continue
			const command: SetCommand =
				pressed.action === 'take'
					? { action: 'take', path: pressed.path!, ...(pressed.force ? { force: true } : {}) }
					: { action: pressed.action }
			out.push({ feed: pressed.feed, command })
		}
		return out
	}

	/** LED messages for the state of the feeds: only the LEDs that change since the last call. */
	leds(states: ReadonlyMap<string, FeedState>): number[][] {
		const out: number[][] = []
		const set = (channel: number, note: number | undefined, cc: number | undefined, on: boolean) => {
			const k = key(channel, note !== undefined ? 'n' : 'c', note ?? cc!)
			if (this.lit.get(k) === on) return
			this.lit.set(k, on)
			const ch = channel - 1
			if (note !== undefined) out.push(on ? [NOTE_ON | ch, note, 127] : [NOTE_OFF | ch, note, 0])
			else out.push([CONTROL_CHANGE | ch, cc!, on ? 127 : 0])
		}
		for (const c of this.config.controls) {
			const s = states.get(c.feed)
			if (!s) continue
			const on =
				c.action === 'take'
					? s.active === c.path
					: c.action === 'auto'
						? s.mode === 'auto'
						: c.action === 'manual'
							? s.mode === 'manual'
							: c.action === 'lock'
								? s.locked
								: !s.locked
			set(c.channel, c.note, c.cc, on)
		}
		for (const t of this.config.tally) {
			const s = states.get(t.feed)
			if (!s) continue
			const p = s.paths[t.path]
			const on =
				t.when === 'active'
					? s.active === t.path
					: t.when === 'healthy'
						? p?.state === 'healthy'
						: t.when === 'failed'
							? p?.state === 'failed'
							: p?.state === 'degraded'
			set(t.channel, t.note, t.cc, on)
		}
		return out
	}
}

/** A MIDI port pair as the surface adapter needs it. */
export interface MidiPort {
	onMessage(listener: (bytes: number[]) => void): void
	send(bytes: number[]): void
	close(): void
	readonly name: string
}

/**
 * Opens the configured ports with @julusian/midi. Returns undefined, having said why once, where there is no ALSA
 * sequencer (no /dev/snd/seq: containers, most servers) or no matching port: the daemon runs on without MIDI.
 */
export async function openMidiPort(config: MidiConfig, log: Logger): Promise<MidiPort | undefined> {
	if (process.platform === 'linux' && !existsSync('/dev/snd/seq')) {
		log.warn('MIDI: no ALSA sequencer (/dev/snd/seq is absent); MIDI surfaces are off')
		return undefined
	}
	let midi: typeof import('@julusian/midi')
	try {
		midi = await import('@julusian/midi')
	} catch (err) {
		log.warn({ err }, 'MIDI: the MIDI library could not be loaded; MIDI surfaces are off')
		return undefined
	}
	try {
		const input = new midi.Input()
		const output = new midi.Output()
		const find = (port: { getPortCount(): number; getPortName(i: number): string }, want: string | undefined) => {
			for (let i = 0; i < port.getPortCount(); i++)
				if (want === undefined || port.getPortName(i).includes(want)) return i
			return -1
		}
		const i = find(input, config.input)
		if (i < 0) {
			log.warn({ want: config.input ?? '(any)' }, 'MIDI: no matching input port; MIDI surfaces are off')
			input.closePort()
			output.closePort()
			return undefined
		}
		input.openPort(i)
		const o = find(output, config.output)
		if (o >= 0) output.openPort(o)
		else log.warn({ want: config.output ?? '(any)' }, 'MIDI: no matching output port; LEDs are off')
		const name = input.getPortName(i)
		log.info({ port: name }, 'MIDI surface open')
		return {
			name,
			onMessage: (listener) => input.on('message', (_delta: number, bytes: number[]) => listener(bytes)),
			send: (bytes) => {
				if (o >= 0) output.sendMessage(bytes)
			},
			close: () => {
				input.closePort()
				output.closePort()
			},
		}
	} catch (err) {
		log.warn({ err }, 'MIDI: the ports could not be opened; MIDI surfaces are off')
		return undefined
	}
}
