// Real ffmpeg senders for the content checks and FACS: a moving picture with a tone, with black, a frozen picture or
// silence in a window of stream time, or the flash-and-beep pattern, encoded (MPEG-2 video and MP2 sound, SD by
// default) to MPEG-TS over UDP or as an SRT caller. Each is a peer started and stopped by its pid.
import { flashBeepInputs } from '../../src/facs/pattern.ts'
import { requireBinary, spawnPeer, type Peer } from './peers.ts'

export type Window = [number, number]

export interface SenderOptions {
	size?: string
	rate?: number
	/** stream-time windows [from, to] in s (one, or several) */
	black?: Window | Window[]
	freeze?: Window | Window[]
	silence?: Window | Window[]
	/** send the flash-and-beep pattern instead, with the sound this many ms late */
	flashBeep?: { audioOffsetMs: number }
	/** stop after this many s (default: run until stopped) */
	seconds?: number
	videoBitrate?: string
	/** ffmpeg -itsoffset for both streams: a path whose encode is the same but whose PTS lag (s) */
	ptsOffsetS?: number
}

const windows = (w: Window | Window[]): Window[] => (typeof w[0] === 'number' ? [w as Window] : (w as Window[]))
const between = (w: Window | Window[]): string =>
	windows(w)
		.map(([a, b]) => `between(t\\,${a}\\,${b})`)
		.join('+')

/** The input arguments: lavfi picture and sound with the faults asked for. */
export function senderInputs(o: SenderOptions = {}): string[] {
	const rate = o.rate ?? 25
	if (o.flashBeep) return flashBeepInputs({ size: o.size ?? '720x576', rate, audioOffsetMs: o.flashBeep.audioOffsetMs })
	let video = `testsrc2=size=${o.size ?? '720x576'}:rate=${rate}`
	// black with a little moving noise: black, but not a still picture (freeze is its own test)
	if (o.black)
		video += `,drawbox=x=0:y=0:w=iw:h=ih:color=black:t=fill:enable='${between(o.black)}',noise=alls=8:allf=t:enable='${between(o.black)}'`
	if (o.freeze) {
		// one freezeframes per window, chained: each repeats the window's first frame to its end
		const parts = windows(o.freeze).map(([from, to], i) => {
			const [a, b] = [Math.round(from * rate), Math.round(to * rate)]
			return `split[a${i}][b${i}];[a${i}][b${i}]freezeframes=first=${a}:last=${b}:replace=${a}`
		})
		video += `,${parts.join(',')}[out0]`
	}
	let audio = 'sine=f=440:r=48000'
	if (o.silence) audio += `,volume=volume=0:enable='${between(o.silence)}'`
	return ['-f', 'lavfi', '-i', video, '-f', 'lavfi', '-i', audio]
}

export function senderArgs(output: string, o: SenderOptions = {}): string[] {
	return [
		...['-hide_banner', '-nostdin', '-loglevel', 'error', '-re'],
		...senderInputs(o),
		...(o.seconds !== undefined ? ['-t', String(o.seconds)] : []),
		...(o.ptsOffsetS !== undefined ? ['-output_ts_offset', String(o.ptsOffsetS)] : []),
		...['-c:v', 'mpeg2video', '-b:v', o.videoBitrate ?? '2M', '-g', '25', '-c:a', 'mp2', '-b:a', '128k'],
		...['-f', 'mpegts', output],
	]
}

/** ffmpeg as an SRT caller into one of our listeners (ffmpeg's SRT latency is in µs). */
export function srtUrl(port: number, streamId?: string): string {
	return `srt://127.0.0.1:${port}?mode=caller&latency=120000&pkt_size=1316${streamId ? `&streamid=${streamId}` : ''}`
}

export function udpUrl(port: number): string {
	return `udp://127.0.0.1:${port}?pkt_size=1316`
}

export function startSender(output: string, o: SenderOptions = {}): Peer {
	return spawnPeer(requireBinary('ffmpeg', 'ffmpeg'), senderArgs(output, o))
}
