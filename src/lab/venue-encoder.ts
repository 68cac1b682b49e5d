// A venue encoder for the lab: a real ffmpeg SRT caller sending a real picture and sound (a moving test picture, a
// 440 Hz tone; SD-ish 640x360 MPEG-2 and MP2), into one of the BOC's SRT listeners, for a device whose content is
// checked (black, freeze, silence). The lab's faults change what it sends without dropping its connection:
//   black    the picture goes black (and still: a black picture is a still one too)
//   freeze   the picture stops on its last frame
//   silence  the sound goes silent
// How, with Debian's ffmpeg and no control channel: the picture is the test picture under an overlay read from a
// one-frame raw RGBA file, and the sound is a raw PCM file of the tone, both looped by ffmpeg (-stream_loop -1,
// which seeks back to their start each time). A fault overwrites a file in place (same size, never truncated):
// a transparent frame or an opaque black or still one; the tone or zeros. ffmpeg reads the new bytes on its next
// loop, within a fraction of a second.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import type { Logger } from 'pino'

export type VenueFault = 'black' | 'freeze' | 'silence'
export const VENUE_FAULTS: readonly VenueFault[] = ['black', 'freeze', 'silence']

export interface VenueEncoderOptions {
	device: string
	/** the listener to call */
	host: string
	port: number
	streamId?: string
	latencyMs: number
	/** where its frame and sound files live */
	dir: string
	log: Logger
	ffmpeg?: string
}

const SIZE = '640x360'
/** the looped sound file: half a second (more than ffmpeg's 32 KiB read buffer, so that a rewind reads it anew) */
const SOUND_S = 0.5

/**
 * One venue's encoder. Like a real one it keeps calling: when its call fails or drops (the BOC's listener not bound
 * yet, restarting), it calls again every second until it is cut or stopped.
 */
export class VenueEncoder {
	private child: ChildProcess | undefined
	private wanted = false
	private retry: NodeJS.Timeout | undefined
	private readonly files: Record<'over' | 'sound' | 'clear' | 'black' | 'still' | 'tone' | 'quiet', string>
	private readonly faults = new Set<VenueFault>()
	private prepared = false

	constructor(private readonly o: VenueEncoderOptions) {
		const d = join(o.dir, o.device)
		this.files = {
			over: join(d, 'over.rgba'),
			sound: join(d, 'sound.raw'),
			clear: join(d, 'clear.rgba'),
			black: join(d, 'black.rgba'),
			still: join(d, 'still.rgba'),
			tone: join(d, 'tone.raw'),
			quiet: join(d, 'quiet.raw'),
		}
	}

	get ffmpeg(): string {
		return this.o.ffmpeg ?? 'ffmpeg'
	}

	/** the content faults standing now */
	get standing(): VenueFault[] {
		return [...this.faults]
	}

	/** Calls the listener (ffmpeg as SRT caller), and keeps calling; resolves once ffmpeg runs. */
	async start(): Promise<void> {
		this.prepare()
		this.wanted = true
		if (this.child) return
		await this.spawn()
	}

	/** The venue's encoder stops (the stream stops at once); no call again until start(). */
	async cut(): Promise<void> {
		await this.stop()
	}

	async stop(): Promise<void> {
		this.wanted = false
		if (this.retry) clearTimeout(this.retry)
		this.retry = undefined
		const child = this.child
		this.child = undefined
		if (!child || child.exitCode !== null || child.signalCode !== null) return
		const exited = new Promise<void>((r) => child.once('exit', () => r()))
		child.kill('SIGKILL')
		await exited
	}

	private async spawn(): Promise<void> {
		const o = this.o
		// Debian's ffmpeg 5.1 takes the stream id as written (no URL decoding)
		const url = `srt://${o.host}:${o.port}?mode=caller&latency=${o.latencyMs * 1000}&pkt_size=1316${o.streamId ? `&streamid=${o.streamId}` : ''}`
		const loop = ['-re', '-stream_loop', '-1']
		const child = spawn(
			this.ffmpeg,
			[
				...['-hide_banner', '-nostdin', '-loglevel', 'error'],
				...['-re', '-f', 'lavfi', '-i', `testsrc2=size=${SIZE}:rate=25`],
				...[
					...loop,
					'-f',
					'rawvideo',
					'-pixel_format',
					'rgba',
					'-video_size',
					SIZE,
					'-framerate',
					'25',
					'-i',
					this.files.over,
				],
				...[...loop, '-f', 's16le', '-ar', '48000', '-ac', '1', '-i', this.files.sound],
				...['-filter_complex', '[0:v][1:v]overlay=format=auto[v]', '-map', '[v]', '-map', '2:a'],
				...['-c:v', 'mpeg2video', '-b:v', '2M', '-g', '25', '-c:a', 'mp2', '-b:a', '128k', '-f', 'mpegts', url],
			],
			{ stdio: ['ignore', 'ignore', 'pipe'] },
		)
		this.child = child
		let said = ''
		child.stderr?.on('data', (d: Buffer) => (said = (said + d.toString()).slice(-500)))
		child.once('exit', (code, signal) => {
			if (this.child !== child) return
			this.child = undefined
			o.log.debug({ device: o.device, code, signal, said: said.trim() }, 'lab: venue encoder ended; calling again')
			if (!this.wanted) return
			this.retry = setTimeout(() => {
				this.retry = undefined
				if (this.wanted) void this.spawn().catch((err: unknown) => o.log.warn({ err }, 'lab: venue encoder'))
			}, 1000)
		})
		await new Promise<void>((resolve, reject) => {
			child.once('spawn', () => resolve())
			child.once('error', (err) => reject(err))
		})
	}

	/** A content fault on or off, without dropping the connection. */
	set(fault: VenueFault, on: boolean): void {
		if (on) this.faults.add(fault)
		else this.faults.delete(fault)
		const f = this.files
		put(f.over, this.faults.has('black') ? f.black : this.faults.has('freeze') ? f.still : f.clear)
		put(f.sound, this.faults.has('silence') ? f.quiet : f.tone)
	}

	/** The frames and sounds, made once with ffmpeg: transparent, black, a still of the test picture; tone, zeros. */
	private prepare(): void {
		if (this.prepared) return
		mkdirSync(join(this.o.dir, this.o.device), { recursive: true })
		const f = this.files
		const make = (args: string[]) => {
			const r = spawnSync(this.ffmpeg, ['-hide_banner', '-loglevel', 'error', '-y', ...args], { encoding: 'utf8' })
			if (r.status !== 0)
				throw new Error(`lab: ffmpeg could not make the venue encoder's files: ${r.stderr || r.error?.message}`)
		}
		const frame = (src: string, out: string) =>
			make(['-f', 'lavfi', '-i', `${src},format=rgba`, '-frames:v', '1', '-f', 'rawvideo', out])
		frame(`color=black@0.0:s=${SIZE}`, f.clear)
		frame(`color=black:s=${SIZE}`, f.black)
		frame(`testsrc2=size=${SIZE}:rate=25`, f.still)
		make(['-f', 'lavfi', '-i', 'sine=f=440:r=48000', '-t', String(SOUND_S), '-f', 's16le', '-ac', '1', f.tone])
		make(['-f', 'lavfi', '-i', 'anullsrc=r=48000:cl=mono', '-t', String(SOUND_S), '-f', 's16le', '-ac', '1', f.quiet])
		make(['-f', 'rawvideo', '-pixel_format', 'rgba', '-video_size', SIZE, '-i', f.clear, '-f', 'rawvideo', f.over])
		make(['-f', 's16le', '-ar', '48000', '-ac', '1', '-i', f.tone, '-f', 's16le', f.sound])
		this.prepared = true
		this.set('black', this.faults.has('black'))
	}
}

/** Overwrites `to` with the bytes of `from`, in place (same size, never truncated: ffmpeg may be reading it). */
function put(to: string, from: string): void {
	const bytes = readFileSync(from)
	const fd = openSync(to, 'r+')
	try {
		writeSync(fd, bytes, 0, bytes.length, 0)
	} finally {
		closeSync(fd)
	}
}

const SAID: Record<VenueFault, string> = {
	black: 'the venue picture goes black',
	freeze: 'the venue picture freezes',
	silence: 'the venue sound goes silent',
}

/**
 * The lab's content faults on a device (`black`, `freeze`, `silence`, and `restore`, which clears them too):
 * what was done, in an operator's words; undefined when the fault is not a content one; an Error (one line) for a
 * content fault on a device without a venue encoder, or a loss on one.
 */
export function venueFault(
	venue: VenueEncoder | undefined,
	action: string,
	device: string,
): string | Error | undefined {
	const content = (VENUE_FAULTS as readonly string[]).includes(action)
	if (!venue)
		return content
			? new Error(
					`${action} needs an SRT receiver whose content is checked (content.black, freeze or silence in the config)`,
				)
			: undefined
	if (content) {
		venue.set(action as VenueFault, true)
		return `${device}: ${SAID[action as VenueFault]} (the SRT stream goes on)`
	}
	if (action === 'degrade')
		return new Error(
			`degrade does not apply to ${device}: its venue encoder sends a real picture (use black, freeze or silence)`,
		)
	if (action === 'restore') for (const k of VENUE_FAULTS) venue.set(k, false)
	return undefined
}
