// The analyser's reading of ffmpeg: the detectors' lines as Debian's ffmpeg 5.1 prints them (captured from
// drivers/content/ffmpeg.ts's chain), the -progress blocks, and lines that are none of them.
import { describe, expect, it } from 'vitest'
import { analyserArgs, audioChain, udpInput, videoChain } from '../../../drivers/content/ffmpeg.ts'
import { parseLine, ProgressParser } from '../../../drivers/content/parse.ts'

describe('parseLine', () => {
	it('reads each detector line of ffmpeg 5.1', () => {
		const lines: [string, unknown][] = [
			['[metadata@black @ 0x558108a77b00] lavfi.black_start=4.44', { type: 'black-start', pts: 4.44 }],
			[
				'[blackdetect @ 0x558108a76d80] black_start:4.44 black_end:7.48 black_duration:3.04',
				{ type: 'black-end', pts: 7.48 },
			],
			['[freezedetect @ 0x558108a788c0] lavfi.freezedetect.freeze_start: 4.44', { type: 'freeze-start', pts: 4.44 }],
			['[freezedetect @ 0x558108a788c0] lavfi.freezedetect.freeze_duration: 3.04', null],
			['[freezedetect @ 0x558108a788c0] lavfi.freezedetect.freeze_end: 7.48', { type: 'freeze-end', pts: 7.48 }],
			['[silencedetect @ 0x558108a7ba40] silence_start: 3.44679', { type: 'silence-start', pts: 3.44679 }],
			[
				'[silencedetect @ 0x558108a7ba40] silence_end: 6.45204 | silence_duration: 3.00525',
				{ type: 'silence-end', pts: 6.45204 },
			],
			['[metadata@pts @ 0x558108a7b580] frame:73   pts:918000  pts_time:10.2', { type: 'sample', pts: 10.2 }],
			['[metadata@pts @ 0x558108a7b580] pts=1', null],
			[
				'[blackframe@flash @ 0x557c254a36c0] frame:25 pblack:100 pts:219600 t:2.440000 type:I last_keyframe:25',
				{ type: 'flash', pts: 2.44 },
			],
			['[ametadata@beep @ 0x5631645d8840] frame:220  pts:120000  pts_time:2.5', { type: 'loud', pts: 2.5 }],
			['[ametadata@beep @ 0x5631645d8840] lavfi.astats.Overall.RMS_level=-9.03', null],
			[
				'  Stream #0:1[0x101]: Audio: mp2 ([3][0][0][0] / 0x0003), 48000 Hz, mono, fltp, 128 kb/s',
				{ type: 'stream', kind: 'audio', description: 'mp2 ([3][0][0][0] / 0x0003), 48000 Hz, mono, fltp, 128 kb/s' },
			],
			['Stream mapping:', { type: 'mapping' }],
			['[mpegts @ 0x55c10062b540] PES packet size mismatch', null],
			['[metadata@pts @ 0x1] frame:1 pts:1 pts_time:nan', null],
		]
		for (const [line, want] of lines) expect(parseLine(line), line).toEqual(want)
	})

	it('never throws on arbitrary text', () => {
		let seed = 7
		const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
		const pieces = ['[', ']', ' @ ', 'silence_start: ', 'pts_time:', 'metadata@pts', '1e999', '-', '.', 'x', ' ']
		for (let i = 0; i < 5000; i++) {
			let s = ''
			for (let j = Math.floor(rnd() * 12); j > 0; j--) s += pieces[Math.floor(rnd() * pieces.length)]
			const p = parseLine(s)
			if (p && 'pts' in p) expect(Number.isFinite(p.pts)).toBe(true)
		}
	})
})

describe('ProgressParser', () => {
	it('gives one block per progress= line', () => {
		const p = new ProgressParser()
		const out = [
			'frame=35',
			'fps=0.00',
			'out_time_us=1317979',
			'speed=2.52x',
			'progress=continue',
			'frame=x',
			'progress=end',
		]
			.map((l) => p.push(l))
			.filter((b) => b !== null)
		expect(out).toEqual([
			{ frame: 35, outTimeUs: 1317979, end: false },
			{ frame: 0, outTimeUs: 1317979, end: true },
		])
	})
})

describe('the command line', () => {
	it('runs only the detectors asked for, and reads the sound only when a check needs it', () => {
		const black = { ms: 2000, pictureRatio: 0.98, pixelThreshold: 0.1 }
		expect(videoChain({ black })).toContain('blackdetect=d=0:pic_th=0.98:pix_th=0.1')
		expect(videoChain({ freeze: { ms: 1500, noiseDb: -60 } })).toContain('freezedetect=n=-60dB:d=1.500')
		expect(videoChain({})).not.toContain('negate')
		expect(videoChain({ avSync: true })).toContain('blackframe@flash')
		expect(audioChain({ black })).toBeNull()
		expect(audioChain({ silence: { ms: 2000, dbfs: -50 } })).toBe('silencedetect=n=-50dB:d=2.000')
		expect(analyserArgs(udpInput('127.0.0.1', 5000), { black })).not.toContain('0:a:0?')
		expect(analyserArgs(udpInput('::1', 5000), { black })).toContain(
			'udp://[::1]:5000?overrun_nonfatal=1&fifo_size=262144&buffer_size=4194304',
		)
	})
})
