// A venue's contribution encoder, as the benchmarks need it: a real MPEG-TS at a constant bit rate, sent as an SRT
// caller. Built from Debian's tools, nothing of ours on the sending side:
//   - ffmpeg encodes the programme once (MPEG-2 video + MP2 audio), muxed at a constant rate: null packets fill the
//     multiplex to exactly `mbps`, as a hardware encoder's CBR output is filled;
//   - multicat (VideoLAN) plays the file out over UDP paced by its PCRs, at 27 MHz precision (`ingests` writes the
//     .aux timing file it reads), as a real encoder emits its multiplex: one 1316-byte datagram every ~2 ms;
//   - srt-live-transmit takes that UDP and is the SRT caller.
// Why not ffmpeg's own pacing (`-re`, its UDP `bitrate` pacer, `-stream_loop`): measured on loopback, ffmpeg `-re
// -stream_loop -1 -c copy` stops sending for 64 to 74 ms at every loop of the file and for 20 to 44 ms inside it (it
// releases whole frames at their DTS and drops the null packets under -c copy). Those are real silences longer than
// silenceMs (50 ms): a receiver that reports them tells the truth, and a soak that counts them as false reports
// measures the sender. multicat's output, measured the same way, has no gap over 20 ms (a busy loop on one core).
// The file is made as long as the run needs, so it never loops.
import { spawn, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { requireBinary, spawnPeer, type Peer } from './peers.ts'

/** the PID of the video elementary stream, which carries the PCR (ffmpeg's first PID, pinned) */
const PCR_PID = 0x100

export interface VenueProgramme {
	/** the TS file; its timing file is `<file>.aux` beside it, as multicat expects */
	ts: string
	seconds: number
}

/** Encodes `seconds` of test pattern and tone into a constant-rate TS and its multicat timing file. */
export async function encodeProgramme(dir: string, seconds: number, mbps: number): Promise<VenueProgramme> {
	const ffmpeg = requireBinary('ffmpeg', 'ffmpeg')
	const ingests = requireBinary('ingests', 'multicat')
	const ts = join(dir, `programme-${seconds}s.ts`)
	await run(ffmpeg, [
		...['-hide_banner', '-loglevel', 'error', '-y'],
		...['-f', 'lavfi', '-i', 'testsrc=size=640x360:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=1000'],
		...['-t', String(seconds), '-c:v', 'mpeg2video', '-b:v', `${Math.round(mbps * 0.6 * 1000)}k`],
		...['-maxrate', `${Math.round(mbps * 0.6 * 1000)}k`, '-bufsize', '1M', '-g', '25'],
		...['-c:a', 'mp2', '-b:a', '192k', '-mpegts_start_pid', String(PCR_PID)],
		...['-muxrate', String(Math.round(mbps * 1_000_000)), '-f', 'mpegts', ts],
	])
	await run(ingests, ['-p', String(PCR_PID), ts])
	return { ts, seconds }
}

export interface VenueSender {
	peers: Peer[]
	/** SIGKILL both processes: the venue's encoder and its SRT gateway die at once */
	kill(): void
	stop(): Promise<void>
	/** one line naming a process that exited (undefined while both run) */
	exited(): string | undefined
}

/**
 * Starts the encoder's playout and its SRT caller toward `srtUrl`. `realtime`: run both at SCHED_FIFO 2 (root or
 * CAP_SYS_NICE), above the daemon's receive threads (1) and any busy loop, so that a silence the receiver reports is
 * never the sender's starvation.
 */
export function startVenue(p: VenueProgramme, udpPort: number, srtUrl: string, realtime: boolean): VenueSender {
	const slt = requireBinary('srt-live-transmit', 'srt-tools')
	const multicat = requireBinary('multicat', 'multicat')
	const prio = (cmd: string, args: string[]): [string, string[]] =>
		realtime ? ['chrt', ['-f', '2', cmd, ...args]] : [cmd, args]
	const caller = spawnPeer(...prio(slt, ['-q', `udp://127.0.0.1:${udpPort}`, srtUrl]))
	// -U: the destination gets bare TS datagrams (no RTP header), as srt-live-transmit's UDP input expects
	const playout = spawnPeer(...prio(multicat, ['-U', p.ts, `127.0.0.1:${udpPort}`]))
	const peers = [playout, caller]
	return {
		peers,
		kill: () => {
			for (const x of peers) x.child.kill('SIGKILL')
		},
		stop: async () => {
			await Promise.all(peers.map((x) => x.stop()))
		},
		exited: () => {
			for (const x of peers)
				if (x.child.exitCode !== null || x.child.signalCode !== null)
					return `${x === playout ? 'multicat' : 'srt-live-transmit'} exited (${x.child.exitCode ?? x.child.signalCode}): ${x.output().slice(-300)}`
			return undefined
		},
	}
}

/** Whether this process may run children at SCHED_FIFO (root, CAP_SYS_NICE or an RTPRIO limit). */
export function realtimeAllowed(): boolean {
	return spawnSync('chrt', ['-f', '2', 'true']).status === 0
}

function run(cmd: string, args: string[]): Promise<void> {
	return new Promise((resolve, reject) => {
		const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] })
		let err = ''
		p.stderr.on('data', (d: Buffer) => (err += d.toString()))
		p.on('error', reject)
		p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}: ${err.slice(-300)}`))))
	})
}
